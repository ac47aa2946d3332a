"""A team subscriber whose connection to Kafka is cut and comes back, again and again, while
alerts are published: a real broker behind a TCP proxy (tests/support/tcp_proxy.py) that cuts
only the subscriber's connections (aborted, and its reconnections turned away until the cut
ends) while the publisher goes on. Every alert is told exactly once: what was published
during a cut is read on from the subscriber's own position once it is back, none twice."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from logtray.tray.base import paths
from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.pipeline.conftest import Broker
from tests.support.tcp_proxy import TcpProxy

CUTS = 3
PUBLISHER = "publisher"  # the publisher's client id: never cut


class Publisher:
    """Publishes alerts one after another, each with its own id; a send that fails is sent
    again with a fresh producer (the topic may then hold it twice: the id makes it one)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.sent: list[str] = []
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        producer: Any = None
        try:
            while not self.stopping.is_set():
                alert_id = f"cut-{len(self.sent):05d}"
                value = {"id": alert_id, "pathname": f"/srv/{alert_id}.py", "count": 30}
                try:
                    if producer is None:
                        producer = AIOKafkaProducer(
                            bootstrap_servers=self.bootstrap, client_id=PUBLISHER
                        )
                        await producer.start()
                    await producer.send_and_wait("logtray-alerts", json.dumps(value).encode())
                except Exception:
                    if producer is not None:
                        await producer.stop()
                    producer = None
                    continue
                self.sent.append(alert_id)
                # Paced, so that each cut falls among many alerts (not a wait for anything).
                await asyncio.sleep(0.01)
        finally:
            if producer is not None:
                await producer.stop()


async def until(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def history_ids() -> list[str]:
    path = paths.history_file()
    if not path.exists():
        return []
    return [json.loads(line).get("id") for line in path.read_text().splitlines() if line]


@pytest.fixture
def proxied(tansu_binary: Path, tmp_path: Path) -> Iterator[TcpProxy]:
    """A broker advertised at a proxy's port: every client comes back through the proxy (which
    the test starts on its own loop)."""
    broker = Broker(tansu_binary, tmp_path / "tansu.log")
    proxy = TcpProxy(broker.port)
    broker.advertised_port = proxy.port
    broker.start()
    yield proxy
    broker.stop()


def subscriber(client_id: str) -> bool:
    return client_id != PUBLISHER


def team_desktop(proxy: TcpProxy, out: io.StringIO) -> AlertService:
    config = load_config(
        {
            "alerts_topic": {"enabled": True, "bootstrap": proxy.bootstrap},
            "alerts": {"history_size": 20000, "storm_keys": 10000},
        }
    )
    return AlertService(config, notifier=ConsoleNotifier(out))


def test_a_subscriber_cut_off_and_back_tells_every_alert_once(
    proxied: TcpProxy, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    proxy = proxied
    out = io.StringIO()
    service = team_desktop(proxy, out)

    def told() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.getvalue().splitlines()]

    async def scenario() -> tuple[list[str], list[int]]:
        await proxy.start()
        publisher = Publisher(proxy.bootstrap)
        publishing: asyncio.Task[None] | None = None
        aborted: list[int] = []

        async def published(count: int) -> None:
            await until(lambda: len(publisher.sent) >= count, f"{count} alerts published")

        try:
            await service.start(listen=False)
            # It reads from the end on its first start: publishing until it has told one
            # places it; nothing published from then on may be lost.
            publishing = asyncio.create_task(publisher.run())
            await until(lambda: told(), "the first alert told")
            first = len(publisher.sent)
            for cut in range(CUTS):
                await published(first + 40 * (2 * cut + 1))
                turned_away = proxy.turned_away
                aborted.append(proxy.cut(subscriber))
                # Cut until it has tried to come back (and was turned away) and many alerts
                # went by without it.
                await published(len(publisher.sent) + 40)
                await until(
                    lambda n=turned_away: proxy.turned_away > n,
                    "a reconnection turned away",
                )
                proxy.restore()
            await published(first + 40 * (2 * CUTS + 1))
            publisher.stopping.set()
            await publishing
            await until(
                lambda: set(publisher.sent[first:]) <= set(history_ids()),
                "every alert in the history",
            )
        finally:
            publisher.stopping.set()
            if publishing is not None:
                await asyncio.gather(publishing, return_exceptions=True)
            await service.stop()
            await proxy.stop()
        return publisher.sent[first:], aborted

    sent, aborted = asyncio.run(scenario())
    assert all(aborted), f"a cut found no connection of the subscriber: {aborted}"
    ids = history_ids()
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, f"in the history more than once: {twice}"
    notices = Counter(n["id"] for n in told() if n["id"] is not None and not n["replaces"])
    assert not {i: n for i, n in notices.items() if n > 1}, "notified twice"
    assert set(sent) <= set(notices), f"never told: {sorted(set(sent) - set(notices))[:20]}"
    print(f"{len(sent)} alerts, {CUTS} cuts, {proxy.turned_away} reconnections turned away")


def test_a_subscriber_restarted_while_cut_off_reads_on_from_its_committed_position(
    proxied: TcpProxy, tmp_path: Path, monkeypatch
) -> None:
    """Cut off, the desktop is quit (its last commits fail) and started again while the
    connection is still down; once it is back, the new one reads on from the position the
    first one committed: what it had not told is in one summary, what it had told is not told
    again, and everything after is live. Each alert is told exactly once, live or summed up."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    proxy = proxied
    outs = [io.StringIO(), io.StringIO()]

    def told(out: io.StringIO) -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.getvalue().splitlines()]

    async def scenario() -> tuple[list[str], list[str]]:
        await proxy.start()
        publisher = Publisher(proxy.bootstrap)
        publishing: asyncio.Task[None] | None = None
        first, second = team_desktop(proxy, outs[0]), team_desktop(proxy, outs[1])

        async def published(count: int) -> None:
            await until(lambda: len(publisher.sent) >= count, f"{count} alerts published")

        try:
            await first.start(listen=False)
            publishing = asyncio.create_task(publisher.run())
            await until(lambda: told(outs[0]), "the first alert told")
            start = len(publisher.sent)
            await published(start + 40)
            assert proxy.cut(subscriber), "the cut found no connection of the subscriber"
            await first.stop()
            turned_away = proxy.turned_away
            await second.start(listen=False)
            await published(len(publisher.sent) + 40)
            await until(lambda: proxy.turned_away > turned_away, "the new start turned away")
            proxy.restore()
            await published(len(publisher.sent) + 40)
            publisher.stopping.set()
            await publishing
            await until(
                lambda: set(publisher.sent[start:]) <= set(history_ids()),
                "every alert in the history",
            )
        finally:
            publisher.stopping.set()
            if publishing is not None:
                await asyncio.gather(publishing, return_exceptions=True)
            await asyncio.gather(first.stop(), second.stop())
            await proxy.stop()
        return publisher.sent, publisher.sent[start:]

    everything, sent = asyncio.run(scenario())
    ids = history_ids()
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, f"in the history more than once: {twice}"
    notices = told(outs[0]) + told(outs[1])
    live = Counter(n["id"] for n in notices if n["id"] is not None and not n["replaces"])
    assert not {i: n for i, n in live.items() if n > 1}, "notified twice"
    summaries = [n for n in told(outs[1]) if n["key"] == "logtray:caught-up"]
    assert len(summaries) == 1, summaries
    # Told exactly once: live, or counted in the summary (which takes only new ids). Those
    # published before the first desktop was placed were never read: not in the history.
    kept = set(ids)
    caught_up = [i for i in everything if i in kept and i not in live]
    assert summaries[0]["count"] == len(caught_up), (summaries[0], len(caught_up))
    print(f"{len(sent)} alerts: {len(live)} live, {len(caught_up)} in the summary")
