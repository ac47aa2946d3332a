"""Reading containers' logs on real engines: Podman's polls (which every engine here is made to
take, so the same proof runs on Docker too), the log read through public calls, and urllib3's
public `read1` when the faster one under it is missing.

Podman's followed stream was seen to skip a line once in 40 followed restarts; it could not be
provoked here on purpose (short-lived writers, floods: every followed read had every line), so
the missed line is made as a followed reader leaves it: its position holds the digests of the
lines it took of its last second, one of them left out.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

import logtray.stack.ship.polled as polled
import logtray.stack.ship.shipper as shipper_module
import logtray.stack.ship.stream as stream_module
from logtray.stack.ship.positions import PositionStore, digest, moved
from logtray.stack.ship.shipper import Shipper
from logtray.stack.ship.stamped import NS, Ranker, parse_stamp
from tests.pipeline.conftest import Broker
from tests.stack.engines import EngineUnderTest
from tests.stack.test_ship import (  # noqa: F401 (fixtures)
    Printers,
    _seqs,
    broker,
    connect_to,
    printer_image,
    printers,
    wait_for,
)
from tests.stack.test_ship import (
    test_restarts_of_the_container_and_the_shipper_lose_and_double_nothing as restarts_check,
)


def _stamped(client: docker.DockerClient, cid: str) -> list[tuple[int, str]]:
    raw = client.api.logs(cid, stdout=True, stderr=True, timestamps=True)
    return [p for line in raw.splitlines() if (p := parse_stamp(line)) is not None]


def test_polls_ship_a_line_the_followed_stream_missed_at_once_and_short_tails_lose_nothing(
    engine: EngineUnderTest,
    printers: Printers,  # noqa: F811
    broker: Broker,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shipper_module, "is_podman", lambda client: True)
    # Tails of 2 lines, then 16, then the whole log: most polls are cut and asked again.
    monkeypatch.setattr(polled, "TAIL_FIRST", 2)
    monkeypatch.setattr(polled, "TAIL_MAX", 16)
    total = 1200
    container = printers.start("plain", "polled", count=total, delay_us=2000)
    client = printers.client
    wait_for(lambda: len(_stamped(client, container.id)) >= 150, 120, "the first lines")
    lines = _stamped(client, container.id)
    # The followed reader took every line up to the last one read here but one of its second.
    last = lines[-1][0] // NS
    in_last = [i for i, (ns, _) in enumerate(lines) if ns // NS == last]
    if len(in_last) < 2:
        lines = lines[: in_last[0]]  # the second has one line: end at the second before
        last = lines[-1][0] // NS
        in_last = [i for i, (ns, _) in enumerate(lines) if ns // NS == last]
    assert len(in_last) >= 2, f"slow the printer: one line a second ({lines[-3:]})"
    missed = in_last[len(in_last) // 2 - 1]
    ranker = Ranker()
    took = []
    for i, (ns, text) in enumerate(lines):
        if i != missed:
            line = ranker.stamp(ns, text)
            took.append((line.ns, line.rank, digest(line.ns, line.text)))
    position = moved(None, took)
    assert position is not None and position.seen is not None
    state = tmp_path / "ship"
    PositionStore(state / "positions").save(container.id, position, container.name)
    expected = [missed + 1, *range(len(lines) + 1, total + 1)]
    shipper = Shipper(connect_to(engine), printers.config(), broker.bootstrap, state)
    shipper.start()
    try:
        wait_for(
            lambda: sum(s.shipped for s in shipper.snapshot()) >= len(expected),
            180,
            f"every line after the position, and the missed one ({shipper.snapshot()})",
        )
    finally:
        shipper.stop()
    assert sum(s.shipped for s in shipper.snapshot()) == len(expected), shipper.snapshot()
    seqs = _seqs(broker.bootstrap, "polled", len(expected))
    assert seqs[0] == missed + 1, "the missed line first: the first poll reads its second"
    assert sorted(seqs) == expected, (
        f"{len(seqs)} records; missing {sorted(set(expected) - set(seqs))[:20]}, "
        f"doubled {sorted({s for s in seqs if seqs.count(s) > 1})[:20]}"
    )
    assert seqs[1:] == sorted(seqs[1:]), "the lines after the position in the log's order"


def test_a_quiet_container_longer_than_the_clients_timeout_is_still_followed(
    engine: EngineUnderTest,
    printers: Printers,  # noqa: F811
    broker: Broker,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The log is read with no socket timeout: the client's is for calls, not for a stream."""
    printers.start("plain", "quiet", count=2, delay_us=5_000_000)
    shipper = Shipper(
        lambda: docker.DockerClient(base_url=engine.host, timeout=2),
        printers.config(),
        broker.bootstrap,
        tmp_path / "ship",
    )
    shipper.start()
    try:
        seqs = _seqs(broker.bootstrap, "quiet", 2)
        assert all(s.following for s in shipper.snapshot()), shipper.snapshot()
    finally:
        shipper.stop()
    assert sorted(seqs) == [1, 2]


def test_without_the_fast_read1_the_public_one_loses_and_doubles_nothing(
    engine: EngineUnderTest,
    printers: Printers,  # noqa: F811
    broker: Broker,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a urllib3 without `_fp` would have it: the container and the shipper restarted
    mid-stream, every line reaches Kafka once."""
    response = printers.client.api.get(
        f"{printers.client.api.base_url}/v{printers.client.api.api_version}/_ping", stream=True
    )
    assert stream_module.fast_read1(response.raw) is not None, "the fast read1 is there today"
    response.close()
    monkeypatch.setattr(stream_module, "fast_read1", lambda raw: None)
    restarts_check(engine, printers, broker, tmp_path)
