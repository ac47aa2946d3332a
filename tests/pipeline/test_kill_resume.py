"""At least once, never twice: a headless `logtray listen` reading a team's alerts topic on a
real broker, the engine, and the tray app itself are killed (SIGKILL) at random moments, again
and again, while alerts are published.
Afterwards every alert is in the history exactly once, every one was notified (a popup of its
own, or counted in a "While you were away" summary: one killed between keeping an alert and
showing it tells it on the next start), and none popped up twice: the read position is
committed only after the history has the alert, the ids already in the history are not taken
again, and the history marks what was told.

Each loop prints its seed (LOGTRAY_KILL_SEED=...) at start and names it in every assertion
message: `LOGTRAY_KILL_SEED=<seed> pytest tests/pipeline/test_kill_resume.py` replays its kill
moments."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from logtray.tray.alerts.shown import parse_marks
from logtray.tray.base import paths
from tests.conftest import free_port, need
from tests.support.desktop import Desktop, missing_tools, start_desktop
from tests.support.processes import LOGTRAY
from tests.support.tray import tray_env

KILLS = 50
# Read when the module loads: every test runs without the LOGTRAY_* variables of the shell.
KILL_SEED = int(os.environ.get("LOGTRAY_KILL_SEED", "0")) or random.randrange(1, 2**31)


def kill_moments() -> random.Random:
    """The random moments of the kills; the seed is printed, and LOGTRAY_KILL_SEED replays it."""
    print(f"kill loop seed: LOGTRAY_KILL_SEED={KILL_SEED} replays these kill moments", flush=True)
    return random.Random(KILL_SEED)


def replay(what: object) -> str:
    """An assertion message that says how to replay the loop that failed."""
    return f"{what} [replay: LOGTRAY_KILL_SEED={KILL_SEED}]"


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
        assert proc.poll() is None, replay(f"logtray exited: {path.read_text()}")
        assert time.monotonic() < deadline, replay(
            f"no {text!r} within {timeout} s: {path.read_text()}"
        )
        time.sleep(0.02)


def wait_for_kill_moment(run: int, rng: random.Random, told: Path) -> None:
    """Odd runs: anywhere in its life (connecting, catching up, reading live, committing).
    Even runs: the moment it has told something (`told` grew) — the history has it, and its
    read position is being committed (the window a crash could show it twice)."""
    if run % 2:
        threading.Event().wait(rng.uniform(0.0, 1.5))
    else:
        grown(told, bound_s=3.0)


def grown(path: Path, bound_s: float) -> None:
    """Return as soon as `path` has grown (or appeared), or after `bound_s`."""
    deadline = time.monotonic() + bound_s
    size = path.stat().st_size if path.exists() else -1
    while time.monotonic() < deadline:
        if (path.stat().st_size if path.exists() else -1) != size:
            return
        time.sleep(0.0005)


Start = Callable[[str], tuple[subprocess.Popen[bytes], Path]]  # a run's process, its stderr


def kill_again_and_again(
    feeder: Publisher,
    start: Start,
    ready: str,
    kills: int,
    moment: Callable[[int], None],
    kept: Callable[[], set[str]],
) -> list[str]:
    """While `feeder` sends, `kills` runs (`start(name)`), each SIGKILLed at its `moment(run)`
    once its stderr said `ready`; then the feeder stopped and one last run, left until `kept()`
    (kept in the history and marked told) holds all the feeder sent, and stopped as a user
    would. What the feeder sent."""
    feeder.start()
    started = time.monotonic()
    try:
        for run in range(kills):
            assert time.monotonic() - started < LOOP_BOUND_S, replay(
                f"only {run} kills in the bound"
            )
            assert feeder.error is None, replay(feeder.error)
            proc, err = start(f"run{run}")
            try:
                wait_text(proc, err, ready)
                moment(run)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        feeder.stopping.set()
        feeder.join(30)
        assert feeder.error is None, replay(feeder.error)
        sent = list(feeder.sent)
        proc, err = start("last")
        try:
            wait_text(proc, err, ready)
            deadline = time.monotonic() + 60
            while not set(sent) <= kept():
                missing = sorted(set(sent) - kept())
                assert time.monotonic() < deadline, replay(
                    f"never kept and told in the last run: {missing[:20]}"
                )
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        feeder.stopping.set()
    return sent


def told_in(out: Path) -> list[dict[str, Any]]:
    """The notices a run printed (the console notifier: one JSON line each). The last line of a
    killed run may be torn (a long line is more than one write): that one is left out."""
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    notices = []
    for n, line in enumerate(lines):
        try:
            notices.append(json.loads(line))
        except ValueError:
            assert n == len(lines) - 1, replay(f"a torn line amid {out}: {line[:200]}")
    return notices


def marked_ids() -> set[str]:
    """The ids the history marks told (its `alerts.shown`)."""
    path = paths.history_file().with_suffix(".shown")
    return set(parse_marks(path.read_bytes())[0]) if path.exists() else set()


def check_notified(kept: list[str], notices: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Every alert `kept` (in the history) was notified — a popup of its own, or named in a
    catch-up summary's ids — and none popped up twice. (Popups, summaries, and how many
    alerts were told again in a summary: killed after telling them, before marking them.)"""
    popups = Counter(n["id"] for n in notices if n["id"] is not None and not n["replaces"])
    assert not {i: n for i, n in popups.items() if n > 1}, replay("popped up twice")
    summaries = [n for n in notices if n["key"] == "logtray:caught-up"]
    for summary in summaries:  # exact: the count is the ids it names (every alert has one)
        assert summary["count"] == len(summary.get("ids", [])), replay(summary)
    counted = {i for n in summaries for i in n.get("ids", [])}
    never = sorted(set(kept) - set(popups) - counted)
    assert not never, replay(f"kept but never notified: {never[:20]}")
    named = [i for n in summaries for i in n.get("ids", [])]
    again = len(named) - len(set(named)) + len(set(named) & set(popups))
    return len(popups), len(summaries), again


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
    rng = kill_moments()
    outputs: list[Path] = []

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        outputs.append(out)
        return start_listen(env, out, err), err

    sent = kill_again_and_again(
        Publisher(broker.bootstrap),
        start,
        "listening on",
        KILLS,
        lambda run: wait_for_kill_moment(run, rng, outputs[-1]),
        lambda: set(history_ids()) & marked_ids(),
    )

    ids = history_ids()
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, replay(f"in the history more than once: {twice}")
    assert set(ids) == set(sent), replay(sorted(set(ids) ^ set(sent))[:20])
    notices: list[dict[str, Any]] = []
    for path in outputs:
        notices += told_in(path)
    # What was missed while killed was told in summaries, the rest live: each alert once as
    # a popup, and in a summary when it was kept but not shown.
    popups, summaries, again = check_notified(ids, notices)
    assert summaries, replay("no run caught up")
    assert len(sent) >= KILLS, replay(sent)
    caught_up = sum(n["count"] for n in notices if n["key"] == "logtray:caught-up")
    print(f"{len(sent)} alerts, {KILLS} kills: {popups} popups, {caught_up} caught up", end="")
    print(f" in {summaries} summaries ({again} told again in one)")


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


def told_pathnames(entries: list[dict[str, Any]], marked: set[str]) -> set[str]:
    return {e.get("pathname") for e in entries if e.get("id") in marked}


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
    rng = kill_moments()

    outputs: list[Path] = []

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        outputs.append(out)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([LOGTRAY, *args], stdout=stdout, stderr=stderr, env=env)
        return proc, err

    # The first start reads from the end: log probe spikes until one is told (it is placed
    # and has committed), then kill it; from then on nothing may be lost.
    proc, err = start("probe")
    out = outputs[-1]
    try:
        wait_text(proc, err, "engine on")
        for n in range(40):
            asyncio.run(produce_values(broker.bootstrap, spike_records(f"/probe/{n}.py", 31)))
            if out.stat().st_size:
                break
            grown(out, bound_s=1.0)
        assert out.stat().st_size, replay(f"the engine told no probe spike: {err.read_text()}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    spikes = kill_again_and_again(
        SpikeLogger(broker.bootstrap),
        start,
        "engine on",
        KILLS,
        lambda run: wait_for_kill_moment(run, rng, outputs[-1]),
        lambda: told_pathnames(history_entries(), marked_ids()),
    )

    entries = history_entries()
    alerted = Counter(e.get("pathname") for e in entries)
    twice = {p: n for p, n in alerted.items() if n > 1}
    assert not twice, replay(f"alerted more than once: {twice}")
    assert set(spikes) <= set(alerted), replay(sorted(set(spikes) - set(alerted))[:20])
    notices: list[dict[str, Any]] = []
    for path in outputs:
        notices += told_in(path)
    popups, summaries, again = check_notified([e["id"] for e in entries], notices)
    print(
        f"{len(spikes)} spikes, {KILLS} kills: {popups} popups, {summaries} summaries "
        f"({again} told again in one)"
    )


async def produce_values(bootstrap: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        for value in values:
            await producer.send("program-logs", value)
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    """Xvfb with a tray host, a D-Bus session bus and dunst: where the tray app runs."""
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)} (see .ci/run)")
    try:
        import gi  # noqa: F401
    except ImportError:
        need(False, "PyGObject missing: pip install -e '.[gtk]'")
    session = start_desktop(tmp_path / "desktop", tray_host=True)
    yield session
    session.stop()


TRAY_KILLS = int(os.environ.get("LOGTRAY_TRAY_KILLS", "50"))
_AWAY = re.compile(r"While you were away(?: \([^)]*\))?: (\d+) alerts?")
_NAME = re.compile(r"\bfile(\d+)\.py\b")
_TOLD = re.compile(r"the catch-up summary told (\d+) alert\(s\): (\[.*\])$")


def summaries_logged() -> list[tuple[int, list[str]]]:
    """(count, ids) of each catch-up summary the runs logged as shown (logged once the
    notification server took it; a torn last line of a killed run is left out)."""
    found = []
    log = paths.log_file()
    for path in [log.with_name(f"{log.name}.{n}") for n in (3, 2, 1)] + [log]:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            match = _TOLD.search(line)
            if match:
                with contextlib.suppress(ValueError):
                    found.append((int(match.group(1)), json.loads(match.group(2))))
    return found


@pytest.mark.desktop
def test_the_tray_killed_at_random_moments_loses_no_alert_and_shows_none_twice(
    broker, desktop, tmp_path
) -> None:
    """The real tray app (GTK under Xvfb, notifying through D-Bus to dunst), reading a team's
    alerts topic, killed (SIGKILL) at random moments while alerts arrive: odd runs anywhere in
    its life, even runs the moment its history took an alert (before the popup and the commit
    of its read position). Every alert ends in the history once and is notified — a popup of
    its own or counted in a summary the notification server received — and no popup shows one
    twice."""
    env = tray_env(
        desktop,
        NO_AT_BRIDGE="1",
        DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock",  # no stack: the alert path alone
        LOGTRAY_ALERTS_TOPIC_ENABLED="true",
        LOGTRAY_ALERTS_TOPIC_BOOTSTRAP=broker.bootstrap,
        LOGTRAY_ALERTS_HISTORY_SIZE="20000",
        LOGTRAY_ALERTS_STORM_KEYS="10000",
    )
    rng = kill_moments()
    history = paths.history_file()

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        err = tmp_path / f"{name}.err"
        with err.open("wb") as stderr:
            proc = subprocess.Popen([LOGTRAY], stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        return proc, err

    started = time.monotonic()
    sent = kill_again_and_again(
        Publisher(broker.bootstrap),
        start,
        "listening on",
        TRAY_KILLS,
        lambda run: wait_for_kill_moment(run, rng, history),
        lambda: set(history_ids()) & marked_ids(),
    )
    elapsed = time.monotonic() - started

    ids = history_ids()
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    assert not twice, replay(f"in the history more than once: {twice}")
    assert set(ids) == set(sent), replay(sorted(set(ids) ^ set(sent))[:20])
    calls = desktop.notify_calls()
    if os.environ.get("SHOW_CALLS"):
        print([c["title"] for c in calls])
    summaries = [c for c in calls if _AWAY.match(str(c["title"]))]
    live = Counter(
        int(n) for c in calls if c not in summaries for n in _NAME.findall(str(c["title"]))
    )
    assert not {n: k for n, k in live.items() if k > 1}, replay("shown twice")
    assert summaries, replay("no run caught up")
    counts = [int(_AWAY.match(str(c["title"])).group(1)) for c in summaries]  # type: ignore[union-attr]
    # Exact: each summary logged as told (with the ids it counted) is one the notification
    # server received with that count; every alert popped up or is among those ids.
    logged = summaries_logged()
    for count, told in logged:
        assert count == len(told), replay(f"a summary of {count} naming {len(told)} ids")
    unseen = Counter(count for count, _ in logged) - Counter(counts)
    assert not unseen, replay(f"summaries logged but never received by dunst: {unseen}")
    counted = {i for _, told in logged for i in told}
    never = sorted(set(ids) - {f"kill-{n:05d}" for n in live} - counted)
    assert not never, replay(f"kept but never notified: {never[:20]}")
    caught_up = sum(counts)
    named = [i for _, told in logged for i in told]
    again = len(named) - len(set(named)) + len(set(named) & {f"kill-{n:05d}" for n in live})
    print(
        f"{len(sent)} alerts, {TRAY_KILLS} tray kills in {elapsed:.0f} s: {sum(live.values())} "
        f"shown live, {caught_up} caught up in {len(summaries)} summaries ({again} told again in "
        "one)"
    )
