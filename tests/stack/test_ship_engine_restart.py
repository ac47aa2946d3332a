"""Shipping survives the engine's own restart: a container prints numbered lines while the
engine that serves its log goes away twice and comes back, and every number reaches Kafka (a
real broker) exactly once, those printed while the engine was down too.

The engine restarted is the test's own, never the machine's (other tests use that one):
- Docker: a second dockerd (tests/stack/own_engines.py), stopped with SIGTERM and started
  again; without live restore it stops the container and its restart policy starts it again,
  with live restore the container keeps printing while the daemon is down;
- Podman (rootful and rootless): a second `podman system service` on its own socket, stopped
  and started again while the container goes on printing under its conmon.

LOGTRAY_TEST_ENGINES narrows them as it does every engine test (tests/stack/engines.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import docker
import pytest

from logtray.stack.alert_route import bridge_addresses
from logtray.stack.ship.shipper import Shipper
from tests.conftest import need
from tests.pipeline.conftest import Broker
from tests.stack.engines import EngineUnderTest, chosen_engines
from tests.stack.own_engines import OwnDockerd, OwnPodmanService
from tests.stack.test_ship import (  # noqa: F401 (fixtures)
    Printers,
    _seqs,
    broker,
    printer_image,
    wait_for,
)

pytestmark = pytest.mark.docker

_CHOSEN = chosen_engines()
DOCKERS = [e for e in _CHOSEN if e.name == "docker"]
PODMANS = [e for e in _CHOSEN if e.name in ("podman", "podman-rootless")]

ROUNDS = 2
# Lines Kafka takes between two restarts, and lines printed while the engine is down.
BETWEEN = 60
WHILE_DOWN = 20
# The printer's pace (a line each 20 ms at most): the restarts come mid-stream.
DELAY_US = 20_000
ENDLESS = 1_000_000


class Restartable(Protocol):
    host: str

    def stop(self) -> None: ...

    def start(self) -> None: ...


@pytest.fixture
def counter_dir() -> Iterator[Path]:
    """A folder the printer keeps its counter in (its /tmp), read from the host while the
    engine is down. In /tmp, open to all: the rootless user's containers write there too."""
    path = Path(tempfile.mkdtemp(prefix="lt-count-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _progress(counter: Path) -> Callable[[], int]:
    """The printer's last number, as its counter file says. The printer rewrites the file for
    each line (it is empty for a moment): the highest number read so far."""
    highest = 0

    def read() -> int:
        nonlocal highest
        with contextlib.suppress(OSError, ValueError):
            highest = max(highest, int((counter / "n").read_text().strip() or 0))
        return highest

    return read


def _shipped(shipper: Shipper) -> int:
    return sum(item.shipped for item in shipper.snapshot())


def _ship_through_restarts(
    engine: Restartable,
    printers: Printers,
    broker: Broker,  # noqa: F811
    state: Path,
    counter: Path,
    while_down: bool,
    restart_policy: dict[str, Any] | None = None,
) -> None:
    progress = _progress(counter)
    create: dict[str, Any] = {"volumes": {str(counter): {"bind": "/tmp", "mode": "rw"}}}
    if restart_policy:
        create["restart_policy"] = restart_policy
    container = printers.start("plain", "steady", count=ENDLESS, delay_us=DELAY_US, **create)
    shipper = Shipper(
        lambda: docker.DockerClient(base_url=engine.host, timeout=60),
        printers.config(),
        broker.bootstrap,
        state,
    )
    printed_down: list[int] = []
    shipper.start()
    try:
        for round_ in range(1, ROUNDS + 1):
            target = _shipped(shipper) + BETWEEN
            wait_for(
                lambda target=target: _shipped(shipper) >= target,
                180,
                f"{BETWEEN} more lines shipped before the engine's restart {round_} "
                f"({shipper.snapshot()}, {shipper.problem})",
            )
            engine.stop()
            if while_down:
                before = progress()
                wait_for(
                    lambda before=before: progress() >= before + WHILE_DOWN,
                    120,
                    f"the container printing while its engine is down (at {progress()})",
                )
                printed_down += range(before + 1, progress() + 1)
            engine.start()
        target = _shipped(shipper) + BETWEEN
        wait_for(
            lambda: _shipped(shipper) >= target,
            180,
            f"lines shipped after the last restart ({shipper.snapshot()}, {shipper.problem})",
        )
        container.reload()
        container.stop(timeout=30)
        last = progress()
        wait_for(
            lambda: _shipped(shipper) >= last,
            180,
            f"every one of the {last} lines shipped ({shipper.snapshot()}, {shipper.problem})",
        )
    finally:
        shipper.stop()
    seqs = _seqs(broker.bootstrap, "steady", last)
    assert len(seqs) == last and sorted(seqs) == list(range(1, last + 1)), (
        f"{len(seqs)} records of {last}; missing "
        f"{sorted(set(range(1, last + 1)) - set(seqs))[:20]}, doubled "
        f"{sorted({s for s in seqs if seqs.count(s) > 1})[:20]}"
    )
    assert _shipped(shipper) == last, shipper.snapshot()
    if while_down:
        assert len(printed_down) >= ROUNDS * WHILE_DOWN and set(printed_down) <= set(seqs)


@pytest.mark.parametrize("live_restore", [False, True], ids=["restart", "live-restore"])
@pytest.mark.parametrize("engine", DOCKERS, ids=[e.name for e in DOCKERS], indirect=True)
def test_a_restart_of_dockerd_loses_and_doubles_no_line(
    engine: EngineUnderTest,
    engine_client: docker.DockerClient,
    printer_image: str,  # noqa: F811
    broker: Broker,  # noqa: F811
    counter_dir: Path,
    tmp_path: Path,
    live_restore: bool,
) -> None:
    need(os.geteuid() == 0, "a second dockerd needs root")
    docker0 = bridge_addresses().get("docker0")
    own = OwnDockerd(live_restore=live_restore)
    printers: Printers | None = None
    try:
        own.start()
        # The test's dockerd leaves the machine's engine's bridge alone (other tests'
        # containers reach the host through it).
        assert bridge_addresses().get("docker0") == docker0, "the test's dockerd took docker0"
        client = own.client()
        # The printer image, from the machine's engine: the test's engine pulls nothing.
        client.images.load(b"".join(engine_client.images.get(printer_image).save(named=True)))
        printers = Printers(client, printer_image)
        _ship_through_restarts(
            own,
            printers,
            broker,
            tmp_path / "ship",
            counter_dir,
            while_down=live_restore,
            # Without live restore the daemon stops the container; this starts it again.
            restart_policy={"Name": "unless-stopped"},
        )
    finally:
        if printers is not None:
            with contextlib.suppress(Exception):
                printers.remove()
        own.close()


@pytest.mark.parametrize("engine", PODMANS, ids=[e.name for e in PODMANS], indirect=True)
def test_a_restart_of_podmans_service_loses_and_doubles_no_line(
    engine: EngineUnderTest,
    engine_client: docker.DockerClient,
    printer_image: str,  # noqa: F811
    broker: Broker,  # noqa: F811
    counter_dir: Path,
    tmp_path: Path,
) -> None:
    own = OwnPodmanService(rootless=engine.name == "podman-rootless")
    # The container is made through the machine's service (its conmon stays with that one);
    # the shipper follows it through the test's own service, which goes away and comes back.
    printers = Printers(engine_client, printer_image)
    try:
        own.start()
        _ship_through_restarts(own, printers, broker, tmp_path / "ship", counter_dir, True)
    finally:
        printers.remove()
        own.close()
