"""At least once, never twice: a headless `logtray listen` reading a team's alerts topic on a
real broker is killed (SIGKILL) at random moments, again and again, while alerts are published.
Afterwards every alert is in the history exactly once, and no alert was notified twice: the
read position is committed only after the history has the alert, and the ids already in the
history are not taken again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from logtray.tray.base import paths
from tests.conftest import free_port
from tests.support.processes import LOGTRAY

KILLS = 50
# A bound on the whole loop (not a speed claim): it fails with what it reached.
LOOP_BOUND_S = 600.0


class Publisher(threading.Thread):
    """Publishes one alert after another (each with its own id) until stopped."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.sent: list[str] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as exc:  # said by the test
            self.error = exc

    async def _publish(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            while not self.stopping.is_set():
                n = len(self.sent)
                alert_id = f"kill-{n:05d}"
                value = {"id": alert_id, "pathname": f"/srv/file{n}.py", "count": 30}
                await producer.send_and_wait("logtray-alerts", json.dumps(value).encode())
                self.sent.append(alert_id)
                # Paced, so that many runs see a few alerts each (not a wait for anything).
                await asyncio.to_thread(self.stopping.wait, 0.05)
        finally:
            await producer.stop()


def start_listen(env: dict[str, str], out: Path, err: Path) -> subprocess.Popen[bytes]:
    port = str(free_port())
    args = [LOGTRAY, "listen", "--notifier", "console", "--host", "127.0.0.1", "--port", port]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env)


def wait_text(proc: subprocess.Popen[bytes], path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None, f"logtray listen exited: {path.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s: {path.read_text()}"
        time.sleep(0.02)


def wait_for_kill_moment(run: int, rng: random.Random, out: Path) -> None:
    """Odd runs: anywhere in its life (connecting, catching up, reading live, committing).
    Even runs: the moment it has told something — the history has it, and its read position
    is being committed (the window a crash could show it twice)."""
    if run % 2:
        threading.Event().wait(rng.uniform(0.0, 1.5))
    else:
        kill_once_told(out, bound_s=3.0)


def kill_once_told(out: Path, bound_s: float) -> None:
    """Return as soon as `out` has grown (a notice was written), or after `bound_s`."""
    deadline = time.monotonic() + bound_s
    size = out.stat().st_size
    while out.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.0005)


def history_ids() -> list[str]:
    path = paths.history_file()
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().split("\n"):
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError:  # a torn last line of a killed run: the next start cuts it
                continue
            ids.append(entry.get("id"))
    return ids


def test_kill_at_random_moments_loses_no_alert_and_tells_none_twice(broker, tmp_path) -> None:
    env = {
        **os.environ,
        "LOGTRAY_ALERTS_TOPIC_ENABLED": "true",
        "LOGTRAY_ALERTS_TOPIC_BOOTSTRAP": broker.bootstrap,
        "LOGTRAY_ALERTS_HISTORY_SIZE": "20000",
        "LOGTRAY_ALERTS_STORM_KEYS": "10000",
    }
    rng = random.Random(int(os.environ.get("LOGTRAY_KILL_SEED", "0")) or None)
    publisher = Publisher(broker.bootstrap)
    publisher.start()
    outputs: list[Path] = []
    started = time.monotonic()
    try:
        for run in range(KILLS):
            assert time.monotonic() - started < LOOP_BOUND_S, f"only {run} kills in the bound"
            assert publisher.error is None, publisher.error
            out, err = tmp_path / f"run{run}.out", tmp_path / f"run{run}.err"
            outputs.append(out)
            proc = start_listen(env, out, err)
            try:
                wait_text(proc, err, "listening on")
                wait_for_kill_moment(run, rng, out)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        publisher.stopping.set()
        publisher.join(30)
        assert publisher.error is None, publisher.error
        sent = list(publisher.sent)
        # One last run, left to read everything, then stopped as a user would.
        out, err = tmp_path / "last.out", tmp_path / "last.err"
        outputs.append(out)
        proc = start_listen(env, out, err)
        try:
            wait_text(proc, err, "listening on")
            deadline = time.monotonic() + 60
            while not set(sent) <= set(history_ids()):
                missing = sorted(set(sent) - set(history_ids()))
                assert time.monotonic() < deadline, f"never in the history: {missing[:20]}"
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        publisher.stopping.set()

    ids = history_ids()
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, f"in the history more than once: {twice}"
    assert set(ids) == set(sent), sorted(set(ids) ^ set(sent))[:20]
    notices: list[dict[str, Any]] = []
    for path in outputs:
        notices += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    told = Counter(n["id"] for n in notices if n["id"] is not None and not n["replaces"])
    assert not {i: n for i, n in told.items() if n > 1}, "notified twice"
    summaries = [n for n in notices if n["key"] == "logtray:caught-up"]
    # What was missed while killed was told in summaries, the rest live: each alert once.
    assert summaries, "no run caught up"
    assert len(sent) >= KILLS, sent
    caught_up = sum(n["count"] for n in summaries)
    live = sum(told.values())
    print(f"{len(sent)} alerts, {KILLS} kills: {live} told live, {caught_up} caught up", end="")
    print(f" in {len(summaries)} summaries")


class SpikeLogger(Publisher):
    """Logs one error spike after another into program-logs, each of its own file (31 errors
    within a second: over the rule's 25 in 10 s), until stopped."""

    async def _publish(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=2)
        await producer.start()
        try:
            while not self.stopping.is_set():
                path = f"/app/spike{len(self.sent)}.py"
                for value in spike_records(path, 31):
                    await producer.send("program-logs", value)
                await producer.flush()
                self.sent.append(path)
                await asyncio.to_thread(self.stopping.wait, 0.2)
        finally:
            await producer.stop()


def spike_records(path: str, count: int) -> list[bytes]:
    base = time.time()
    out = []
    for i in range(count):
        at = base + i * 0.02
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"
        record = {"@timestamp": stamp, "level": "error", "pathname": path, "lineno": 7}
        out.append(json.dumps(record).encode())
    return out


def history_entries() -> list[dict[str, Any]]:
    path = paths.history_file()
    entries = []
    if path.exists():
        for line in path.read_text().split("\n"):
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
    return entries


def test_the_engine_killed_at_random_moments_tells_each_spike_once(broker, tmp_path) -> None:
    env = {
        **os.environ,
        "LOGTRAY_STACK_HEARTBEAT_S": "0",
        "LOGTRAY_ALERTS_HISTORY_SIZE": "20000",
        "LOGTRAY_ALERTS_STORM_KEYS": "10000",
        # The spike rule's promise alone: every file here is also an error kind of its own,
        # whose alerts (tests/pipeline/test_kinds_engine.py) would be counted as the file's.
        "LOGTRAY_KINDS_ENABLED": "false",
    }
    args = ["engine", "--bootstrap", broker.bootstrap, "--notifier", "console"]
    rng = random.Random(int(os.environ.get("LOGTRAY_KILL_SEED", "0")) or None)

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([LOGTRAY, *args], stdout=stdout, stderr=stderr, env=env)
        return proc, out, err

    # The first start reads from the end: log probe spikes until one is told (it is placed
    # and has committed), then kill it; from then on nothing may be lost.
    proc, out, err = start("probe")
    outputs = [out]
    try:
        wait_text(proc, err, "engine on")
        for n in range(40):
            asyncio.run(produce_values(broker.bootstrap, spike_records(f"/probe/{n}.py", 31)))
            if out.stat().st_size:
                break
            kill_once_told(out, bound_s=1.0)
        assert out.stat().st_size, f"the engine told no probe spike: {err.read_text()}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    logger = SpikeLogger(broker.bootstrap)
    logger.start()
    started = time.monotonic()
    try:
        for run in range(KILLS):
            assert time.monotonic() - started < LOOP_BOUND_S, f"only {run} kills in the bound"
            assert logger.error is None, logger.error
            proc, out, err = start(f"run{run}")
            outputs.append(out)
            try:
                wait_text(proc, err, "engine on")
                wait_for_kill_moment(run, rng, out)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        logger.stopping.set()
        logger.join(30)
        assert logger.error is None, logger.error
        spikes = list(logger.sent)
        proc, out, err = start("last")
        outputs.append(out)
        try:
            wait_text(proc, err, "engine on")
            deadline = time.monotonic() + 60
            while not set(spikes) <= {e.get("pathname") for e in history_entries()}:
                told = {e.get("pathname") for e in history_entries()}
                missing = sorted(set(spikes) - told)
                assert time.monotonic() < deadline, f"never alerted: {missing[:20]}"
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        logger.stopping.set()

    alerted = Counter(e.get("pathname") for e in history_entries())
    twice = {p: n for p, n in alerted.items() if n > 1}
    assert not twice, f"alerted more than once: {twice}"
    assert set(spikes) <= set(alerted), sorted(set(spikes) - set(alerted))[:20]
    notices: list[dict[str, Any]] = []
    for path in outputs:
        notices += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    told = Counter(n["id"] for n in notices if n["id"] is not None and not n["replaces"])
    assert not {i: n for i, n in told.items() if n > 1}, "notified twice"
    print(f"{len(spikes)} spikes, {KILLS} kills: {sum(told.values())} told")


async def produce_values(bootstrap: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        for value in values:
            await producer.send("program-logs", value)
        await producer.flush()
    finally:
        await producer.stop()
