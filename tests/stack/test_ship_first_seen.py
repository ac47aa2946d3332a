"""Where a container shipped for the first time starts, on every engine: one that already ran
when shipping began is read from `[ship] first_look_back_s` before that moment (its older
lines stay out of Kafka), one that starts while shipping runs from its first line."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logtray.stack.ship.shipper import Shipper
from logtray.stack.ship.stamped import NS, parse_stamp
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

pytestmark = pytest.mark.docker

# Three lines, then (once the test opens the gate) three more, then nothing.
GATED = (
    'for i in 1 2 3; do echo "seq $i: handled request"; done; '
    "until [ -e /gate/open ]; do usleep 20000; done; "
    'for i in 4 5 6; do echo "seq $i: handled request"; done; '
    "exec sleep 1000000"
)


@pytest.fixture
def gate() -> Iterator[Path]:
    """A folder the container waits on (open to all: rootless Podman's containers too)."""
    path = Path(tempfile.mkdtemp(prefix="lt-gate-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_running_container_is_shipped_from_the_look_back_and_a_new_one_from_its_first_line(
    engine: EngineUnderTest,
    printers: Printers,  # noqa: F811
    broker: Broker,  # noqa: F811
    gate: Path,
    tmp_path: Path,
) -> None:
    old = printers.start(
        "plain",
        "old",
        count=0,
        command=["sh", "-c", GATED],
        volumes={str(gate): {"bind": "/gate", "mode": "ro"}},
    )

    def stamps() -> list[int]:
        raw = old.logs(stdout=True, stderr=True, timestamps=True).splitlines()
        return [parsed[0] for line in raw if (parsed := parse_stamp(line)) is not None]

    wait_for(lambda: len(stamps()) >= 3, 60, "the running container's first three lines")
    # With no look-back, lines of a second before shipping began are old: begin in a later
    # second than theirs (the engine stamps with this machine's clock).
    second = max(stamps()) // NS
    wait_for(lambda: time.time_ns() // NS > second, 5, "the clock's next second")
    shipper = Shipper(
        connect_to(engine), printers.config(first_look_back_s=0.0), broker.bootstrap, tmp_path
    )
    shipper.start()
    try:
        (gate / "open").touch()
        printers.start("plain", "new", count=5)
        wait_for(lambda: len(_seqs(broker.bootstrap, "new", 8)) >= 5, 120, "the new container")
        wait_for(
            lambda: len(_seqs(broker.bootstrap, "old", 8)) >= 3,
            120,
            f"the running container's later lines ({shipper.snapshot()})",
        )
    finally:
        shipper.stop()
    assert _seqs(broker.bootstrap, "old", 8) == [4, 5, 6]
    assert _seqs(broker.bootstrap, "new", 8) == [1, 2, 3, 4, 5]
