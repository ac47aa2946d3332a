"""The heartbeat: the alert path proven all day through Kafka and the rule, told when it fails.

Pure parts on an injected clock; then end to end with real processes: a tansu broker and
`logtray engine` (the lite profile's rule), and the alert service in-process with the real TCP
listener answered the way riemann.config answers (its own answer runs in
tests/stack/test_riemann_config.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.heartbeat import (
    HeartbeatMonitor,
    HeartbeatStatus,
    answer_alert,
    heartbeat_mark,
    heartbeat_record,
    heartbeat_tap,
    read_report,
    save_report,
)
from logtray.tray.base.config import EngineConfig, load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.support.processes import Running


def test_proven_line_and_two_missed_heartbeats_name_the_rule():
    monitor = HeartbeatMonitor(60.0, prefix="t")
    first = monitor.next_id(0.0)
    monitor.sent_ok(first, 0.0)
    assert monitor.status(10.0).line == "alerts: heartbeat sent, waiting for the first answer"
    assert monitor.answer(first, 0.18)
    assert monitor.status(40.18).line == "alerts: proven 40 s ago, 180 ms end to end"
    assert not monitor.answer("someone-else", 41.0)
    # The rule stops: two heartbeats go unanswered.
    for at in (60.0, 120.0, 180.0):
        monitor.due(at)
        monitor.sent_ok(monitor.next_id(at), at)
    status = monitor.status(181.0, "Riemann")
    assert status.failing and monitor.missed == 2
    assert status.hop == "Riemann did not answer 2 heartbeats in a row"
    assert "logtray stack logs riemann" in status.fix
    assert status.line.startswith("alerts: not proven — Riemann did not answer")
    # Answered again: proven, not failing.
    assert monitor.answer("t-4", 181.1)
    assert not monitor.status(182.0).failing


def test_kafka_refusing_is_the_hop_named():
    monitor = HeartbeatMonitor(60.0, prefix="t")
    monitor.sent_ok(monitor.next_id(0.0), 0.0)
    monitor.due(60.0)  # the first heartbeat, unanswered: missed
    monitor.send_failed("KafkaConnectionError")  # the second cannot be produced: missed
    status = monitor.status(61.0, "the engine")
    assert status.failing and status.hop.startswith("Kafka is not accepting the heartbeat")
    monitor.answer("t-1", 62.0)  # a late answer: the path works again
    assert not monitor.status(62.0).failing
    monitor.due(120.0)  # an unanswered heartbeat is counted once, however many beats pass
    monitor.due(180.0)
    assert monitor.missed == 0
    monitor.send_failed("KafkaConnectionError")
    monitor.send_failed("KafkaConnectionError")
    status = monitor.status(121.0, "the engine")
    assert status.failing and status.hop.startswith("Kafka is not accepting the heartbeat")
    assert "logtray stack logs kafka" in status.fix


def test_the_mark_and_the_tap():
    record = heartbeat_record("abc-1", 1764000000.0)
    assert heartbeat_mark(record) == "abc-1"
    obj = json.loads(record)
    assert "level" not in obj and "pathname" not in obj  # no rule could count it
    assert heartbeat_mark(b'{"logtray_heartbeat": 5}') is None
    assert heartbeat_mark(b'{"level": "error", "pathname": "/a.py"}') is None
    assert heartbeat_mark(b"not json") is None
    passed: list[Alert] = []
    answered: list[str] = []
    accept = heartbeat_tap(lambda alert, *a: passed.append(alert), answered.append)
    accept(answer_alert("abc-1"), "engine")
    accept(Alert(pathname="/a.py", count=30))
    assert answered == ["abc-1"] and [a.pathname for a in passed] == ["/a.py"]


def test_the_engine_answers_and_never_counts_a_heartbeat():
    seen: list[Alert] = []
    engine = RuleEngine(EngineConfig(threshold=2), seen.append, clock=lambda: 1764000000.0)
    engine.feed([heartbeat_record(f"hb-{i}", 1764000000.0) for i in range(30)])
    assert [a.extra for a in seen] == [{"heartbeat": f"hb-{i}"} for i in range(30)]
    assert engine.rule.events == 0 and engine.malformed == 0 and engine.heartbeats == 30
    # marked records that also look like errors of one file: answered, never counted
    marked = [
        json.dumps(
            {"logtray_heartbeat": f"x-{i}", "level": "error", "pathname": "/app/a.py"}
        ).encode()
        for i in range(30)
    ]
    engine.feed(marked)
    assert engine.rule.events == 0 and engine.heartbeats == 60 and engine.rule.alerts == 0


def test_the_report_for_doctor(tmp_path: Path):
    path = tmp_path / "heartbeat.json"
    monitor = HeartbeatMonitor(60.0, prefix="t")
    monitor.sent_ok(monitor.next_id(100.0), 100.0)
    monitor.answer("t-1", 100.25)
    save_report(monitor.report(101.0, "Riemann"), path)
    status = read_report(path, 140.25)
    assert status == HeartbeatStatus("alerts: proven 40 s ago, 250 ms end to end")
    stale = read_report(path, 101.0 + 600)
    assert stale is not None and stale.line.startswith("alerts: no heartbeat for 10 min")
    path.write_text('{"written_at": "x"}')
    assert read_report(path, 0.0) is None
    assert read_report(tmp_path / "missing.json", 0.0) is None


def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_logtray_engine_proves_the_path_and_tells_a_broker_that_stops(broker, tmp_path):
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LOGTRAY_STACK_HEARTBEAT_S": "1",
    }
    report = tmp_path / "data" / "logtray" / "heartbeat.json"

    def status() -> HeartbeatStatus | None:
        return read_report(report, time.time())

    engine = Running("engine", "--bootstrap", broker.bootstrap, "--notifier", "console", env=env)
    try:
        assert "heartbeat every 1 s" in engine.wait_stderr("engine on")
        until(lambda: (s := status()) and "ms end to end" in s.line, 30, "the first proof")
        broker.stop()
        until(
            lambda: (s := status()) and s.failing and s.hop.startswith("Kafka is not accepting"),
            30,
            "two missed heartbeats, naming Kafka",
        )
        engine.wait_stderr("alerts: not proven")
        broker.start()
        engine.wait_stderr("(again)", timeout=60)
        until(lambda: (s := status()) and not s.failing, 30, "the proof after the restart")
    finally:
        engine.stop()
    # Never a notification (the console notifier prints each on stdout), never in the history.
    assert engine.stdout.empty()
    history = tmp_path / "data" / "logtray" / "alerts.jsonl"
    assert not history.exists() or history.read_text() == ""
    said = "".join(engine.stderr_lines)
    assert said.count("not proven") == 1, said  # one episode, said once


def test_the_listener_path_answered_as_riemann_answers(broker, tmp_path, monkeypatch):
    """The tray's side of the full profile: the heartbeat record read from Kafka and answered
    over a real TCP connection to the listener with the token, as riemann.config does; a
    stopped answerer is told within two heartbeats, naming the rule."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    port = _free_port()
    config = load_config(
        {
            "listener": {"port": port, "token": "tok-1", "hosts": ["127.0.0.1"]},
            "stack": {"heartbeat_s": 1.0},
        }
    )
    out: list[str] = []
    changes: list[tuple[HeartbeatStatus, HeartbeatStatus | None]] = []

    class Lines:
        def write(self, text: str) -> int:
            out.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    service = AlertService(
        config,
        notifier=ConsoleNotifier(Lines()),  # type: ignore[arg-type]
        on_heartbeat=lambda now, before: changes.append((now, before)),
    )

    async def scenario() -> None:
        await service.start()
        stop = asyncio.Event()
        answering = asyncio.create_task(riemann(broker.bootstrap, port, stop))
        service.start_heartbeat(broker.bootstrap, "program-logs", "Riemann")
        try:
            await _until(lambda: service.heartbeat and service.heartbeat.answered >= 3, 30)
            status = service.heartbeat_status()
            assert status is not None and status.line.startswith("alerts: proven")
            stop.set()  # Riemann stops answering
            await answering
            await _until(lambda: any(now.failing for now, _ in changes), 30)
        finally:
            stop.set()
            await service.stop()

    asyncio.run(scenario())
    failing = [now for now, before in changes if now.failing and not (before and before.failing)]
    assert len(failing) == 1 and failing[0].hop == "Riemann did not answer 2 heartbeats in a row"
    assert out == []  # never notified
    assert service.router is not None and service.router.accepted == 0
    assert service.router.history.recent() == []


async def riemann(bootstrap: str, port: int, stop: asyncio.Event, delay_s: float = 0.0) -> None:
    """Answers heartbeat records as riemann.config does: one JSON line with the token over a
    fresh TCP connection to the listener (after `delay_s`: a rule behind the logs)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "program-logs", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    beat = heartbeat_mark(record.value)
                    if beat:
                        await asyncio.sleep(delay_s)
                        line = json.dumps({"heartbeat": beat, "token": "tok-1"}) + "\n"
                        _, writer = await asyncio.open_connection("127.0.0.1", port)
                        writer.write(line.encode())
                        await writer.drain()
                        writer.close()
    finally:
        await consumer.stop()


async def _until(predicate: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_doctor_says_what_the_heartbeat_last_proved(tmp_path, monkeypatch):
    from logtray.tray.commands.doctor import check_heartbeat

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert check_heartbeat().detail.startswith("not checked")
    monitor = HeartbeatMonitor(60.0, prefix="t")
    now = time.time()
    monitor.sent_ok(monitor.next_id(now - 40.18), now - 40.18)
    monitor.answer("t-1", now - 40.0)
    save_report(monitor.report(now - 40.0, "Riemann"), tmp_path / "logtray" / "heartbeat.json")
    check = check_heartbeat()
    assert check.ok and check.detail == "alerts: proven 40 s ago, 180 ms end to end"
    for at in (now - 20, now - 10):
        monitor.sent_ok(monitor.next_id(at), at)
        monitor.due(at + 60)
    save_report(monitor.report(now, "Riemann"), tmp_path / "logtray" / "heartbeat.json")
    check = check_heartbeat()
    assert not check.ok and "Riemann did not answer" in check.detail
    assert "logtray stack logs riemann" in check.fix


def test_late_answers_say_the_rule_is_behind_the_logs(broker, tmp_path, monkeypatch):
    """A rule that answers 2.5 s after the record was produced, with max_alert_delay_s = 1:
    the menu's line (and doctor's) says alerts are late, and why; nothing is notified."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    port = _free_port()
    config = load_config(
        {
            "listener": {"port": port, "token": "tok-1", "hosts": ["127.0.0.1"]},
            "stack": {"heartbeat_s": 5.0, "max_alert_delay_s": 1.0},
        }
    )
    service = AlertService(config, notifier=ConsoleNotifier(io.StringIO()))

    async def scenario() -> None:
        await service.start()
        stop = asyncio.Event()
        answering = asyncio.create_task(riemann(broker.bootstrap, port, stop, delay_s=2.5))
        service.start_heartbeat(broker.bootstrap, "program-logs", "Riemann")
        try:
            await _until(lambda: service.heartbeat and service.heartbeat.answered >= 1, 30)
        finally:
            stop.set()
            await answering
            await service.stop()

    asyncio.run(scenario())
    status = read_report(tmp_path / "data" / "logtray" / "heartbeat.json", time.time())
    assert status is not None and status.late and not status.failing
    late = re.fullmatch(
        r"alerts: late — Riemann is (\d+) s behind the logs \(more than 1 s\)", status.line
    )
    assert late is not None and int(late.group(1)) >= 2, status.line
    assert "max_alert_delay_s" in status.fix
    assert service.router is not None and service.router.accepted == 0


def test_late_is_said_from_the_end_to_end_time():
    monitor = HeartbeatMonitor(60.0, prefix="t", max_delay_s=30.0)
    monitor.sent_ok(monitor.next_id(0.0), 0.0)
    monitor.answer("t-1", 45.0)
    status = monitor.status(46.0, "the engine")
    assert status.late and not status.failing
    assert status.line == "alerts: late — the engine is 45 s behind the logs (more than 30 s)"
    monitor.sent_ok(monitor.next_id(60.0), 60.0)
    monitor.answer("t-2", 60.2)
    assert monitor.status(61.0).line == "alerts: proven 1 s ago, 200 ms end to end"


def test_a_pause_is_proven_again_before_anything_is_told():
    """The lid closes with a heartbeat in flight; after 3 h the first send fails (the network
    is not back yet): without the pause found, that is two missed heartbeats and a false
    "not proven". Counted afresh from the pause, it is one; a path really broken after the
    pause is told after two misses, as ever."""
    monitor = HeartbeatMonitor(60.0, prefix="t")
    monitor.sent_ok(monitor.next_id(0.0), 0.0)
    monitor.answer("t-1", 0.2)
    monitor.sent_ok(monitor.next_id(60.0), 60.0)  # in flight when the machine sleeps
    woke = 60.0 + 3 * 3600 + 60.0
    # The wait after it (60 s) ended 3 h late; a busy machine is late by seconds.
    assert monitor.pause_over(60.0, woke, 60.0) == 3 * 3600
    assert monitor.pause_over(60.0, 60.0 + 60.0 + 4.9, 60.0) is None
    assert monitor.pause_over(60.0, 60.0 + 60.0 + 29.0, 60.0) is None  # half an interval
    monitor.resumed(3 * 3600)
    monitor.due(woke)  # the one in flight is not counted
    status = monitor.status(woke)
    assert status.rechecking and not status.failing and monitor.missed == 0
    assert status.line == (
        "alerts: proving again after a pause of 3 h (last proven 3 h ago, 200 ms end to end)"
    )
    beat = monitor.next_id(woke)
    monitor.send_failed("KafkaConnectionError")  # Wi-Fi not back yet: one miss, not told
    assert not monitor.status(woke + 1).failing
    # The answer to the one in flight comes in late: no proof, and no "3 h behind the logs".
    assert not monitor.answer("t-2", woke + 2) and monitor.latency_s == 0.2
    monitor.due(woke + 60)
    beat = monitor.next_id(woke + 60)
    monitor.sent_ok(beat, woke + 60)
    assert monitor.answer(beat, woke + 60.3)
    status = monitor.status(woke + 61)
    assert status.line == "alerts: proven 1 s ago, 300 ms end to end" and not status.rechecking
    # Another pause, and then a rule that does not answer: told after two missed heartbeats.
    monitor.resumed(7200.0)
    at = woke + 7400
    for _ in range(3):
        monitor.due(at)
        monitor.sent_ok(monitor.next_id(at), at)
        at += 60
    status = monitor.status(at, "the engine")
    assert status.failing and status.hop == "the engine did not answer 2 heartbeats in a row"
    # A failure told before a pause stays told until an answer proves the path.
    monitor.resumed(600.0)
    assert monitor.status(at + 1).failing


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(st.sampled_from(["sent", "answered", "failed", "due"]), max_size=30),
    after=st.sampled_from(["failed", "unanswered"]),
    pause=st.floats(min_value=0.0, max_value=1e8, allow_nan=False),
)
def test_one_miss_after_a_pause_is_never_told(before: list[str], after: str, pause: float):
    """Whatever happened before a pause, one heartbeat missed after it tells nothing new: the
    status is failing afterwards exactly when it was before, never late by the pause, and an
    answer to a heartbeat from before the pause proves nothing."""
    monitor = HeartbeatMonitor(60.0, prefix="p")
    now = 1000.0
    last: str | None = None
    for step in before:
        now += 60.0
        if step == "sent":
            monitor.due(now)
            last = monitor.next_id(now)
            monitor.sent_ok(last, now)
        elif step == "answered" and last is not None:
            monitor.answer(last, now - 59.5)
        elif step == "failed":
            monitor.due(now)
            monitor.next_id(now)
            monitor.send_failed("KafkaConnectionError")
        else:
            monitor.due(now)
    was_failing = monitor.status(now).failing
    monitor.resumed(pause)
    now += pause + 60.0
    monitor.due(now)
    beat = monitor.next_id(now)
    if after == "failed":
        monitor.send_failed("KafkaConnectionError")
    else:
        monitor.sent_ok(beat, now)
    monitor.due(now + 60.0)
    if last is not None:
        assert not monitor.answer(last, now + 61.0)
    status = monitor.status(now + 61.0)
    assert status.failing == was_failing, (before, after, status)
    assert not status.late and status.rechecking != was_failing


@settings(max_examples=300, deadline=None)
@given(
    started=st.floats(min_value=0.0, max_value=1e10),
    bound=st.floats(min_value=0.0, max_value=3600.0),
    later=st.floats(min_value=0.0, max_value=1e7),
    interval=st.floats(min_value=0.5, max_value=3600.0),
)
def test_a_pause_is_a_step_far_later_than_its_bound(
    started: float, bound: float, later: float, interval: float
):
    slack = max(5.0, interval / 2)
    assume(abs(later - slack) > 1e-3 * max(1.0, slack))  # clear of the float edge
    found = HeartbeatMonitor(interval).pause_over(started, started + bound + later, bound)
    if later < slack:
        assert found is None
    else:
        assert found is not None and abs(found - later) <= 1e-3 * max(1.0, later)


@settings(max_examples=200, deadline=None)
@given(
    paused=st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=20),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
        st.lists(st.integers(), max_size=3),
    )
)
def test_a_kept_report_with_any_pause_reads_as_a_short_line(tmp_path_factory, paused: object):
    """The report is read back from a file: whatever its `paused_s` holds, the line is short
    and reading it never fails."""
    path = tmp_path_factory.mktemp("report") / "heartbeat.json"
    path.write_text(
        json.dumps(
            {
                "written_at": 100.0,
                "interval_s": 60.0,
                "proven_at": 90.0,
                "latency_s": 0.2,
                "paused_s": paused,
            }
        )
    )
    status = read_report(path, 100.0)
    assert status is not None and len(status.line) < 120, status
    assert status.rechecking == (
        isinstance(paused, (int, float))
        and not isinstance(paused, bool)
        and 0 <= paused <= 10 * 365 * 86400
    )


def test_the_report_says_the_path_is_being_proven_again(tmp_path: Path):
    path = tmp_path / "heartbeat.json"
    monitor = HeartbeatMonitor(60.0, prefix="t")
    monitor.sent_ok(monitor.next_id(100.0), 100.0)
    monitor.answer("t-1", 100.25)
    monitor.resumed(5400.0)
    save_report(monitor.report(5600.0, "Riemann"), path)
    status = read_report(path, 5601.0)
    assert status is not None and status.rechecking and not status.failing
    assert status.line == (
        "alerts: proving again after a pause of 90 min (last proven 92 min ago, 250 ms end to end)"
    )


def test_a_clock_jump_with_a_heartbeat_in_flight_is_no_false_alarm(broker, tmp_path, monkeypatch):
    """The alert service's heartbeat loop on a clock that jumps 2 h forward (the machine slept)
    while a heartbeat is unanswered and the rule is away (asleep too), and the rule back only
    after the first heartbeat past the pause was missed: a pause, proven again, never "not
    proven". Riemann's side answers over the real listener, as in the test above."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    port = _free_port()
    config = load_config(
        {
            "listener": {"port": port, "token": "tok-1", "hosts": ["127.0.0.1"]},
            "stack": {"heartbeat_s": 1.0},
        }
    )
    jump = [0.0]
    changes: list[HeartbeatStatus] = []
    service = AlertService(
        config,
        notifier=ConsoleNotifier(io.StringIO()),
        clock=lambda: time.time() + jump[0],
        on_heartbeat=lambda now, before: changes.append(now),
    )

    async def scenario() -> HeartbeatMonitor:
        await service.start()
        stop = asyncio.Event()
        answering = asyncio.create_task(riemann(broker.bootstrap, port, stop))
        monitor = service.start_heartbeat(broker.bootstrap, "program-logs", "Riemann")
        assert monitor is not None
        try:
            await _until(lambda: monitor.answered >= 2, 30)
            stop.set()  # the rule sleeps
            await answering
            sent = monitor.sent
            await _until(lambda: monitor.sent > sent, 30)  # a heartbeat in flight
            jump[0] = 7200.0  # ... as the machine sleeps 2 h
            sent = monitor.sent
            # The first heartbeat after the pause goes unanswered until the next is sent (the
            # rule is waking up): with the one in flight, two in a row without an answer.
            await _until(lambda: monitor.sent >= sent + 2, 30)
            stop.clear()
            answering = asyncio.create_task(riemann(broker.bootstrap, port, stop))
            proven = monitor.answered
            await _until(lambda: monitor.answered > proven, 30)
            await _until(lambda: changes[-1].line.startswith("alerts: proven"), 30)
        finally:
            stop.set()
            await answering
            await service.stop()
        return monitor

    monitor = asyncio.run(scenario())
    assert not [s for s in changes if s.failing], [s.line for s in changes]
    rechecking = [s.line for s in changes if s.rechecking]
    assert rechecking and rechecking[0].startswith("alerts: proving again after a pause of 2 h")
    assert changes[-1].line.startswith("alerts: proven") and not changes[-1].late
    assert monitor.pauses == 1  # the jump is one pause, and a busy machine none


def test_logtray_engine_stopped_for_a_while_proves_again_and_tells_what_was_logged(
    broker, tmp_path
):
    """A real `logtray engine`, also subscribed to a team's alerts topic, frozen (SIGSTOP) for
    many heartbeats while the broker runs on, services log error spikes and the team publishes
    alerts; thawed (SIGCONT), it finds the pause, proves the path again (never "not proven")
    and tells each spike and each team alert of the pause once."""
    from tests.pipeline.kafka_util import produce
    from tests.pipeline.test_kill_resume import produce_values, spike_records

    state = tmp_path / "state"
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(state),
        "LOGTRAY_STACK_HEARTBEAT_S": "1",
        "LOGTRAY_ALERTS_TOPIC_ENABLED": "true",
        "LOGTRAY_ALERTS_TOPIC_BOOTSTRAP": broker.bootstrap,
        "LOGTRAY_ALERTS_STORM_KEYS": "100",
    }
    report = tmp_path / "data" / "logtray" / "heartbeat.json"
    log_file = state / "logtray" / "log" / "logtray.log"

    def logged(text: str) -> bool:
        return log_file.exists() and text in log_file.read_text()

    def status() -> HeartbeatStatus | None:
        return read_report(report, time.time())

    engine = Running("engine", "--bootstrap", broker.bootstrap, "--notifier", "console", env=env)
    spikes = [f"/app/asleep{n}.py" for n in range(3)]
    team = [f"/srv/team{n}.py" for n in range(3)]
    try:
        engine.wait_stderr("engine on")
        until(lambda: (s := status()) and "ms end to end" in s.line, 30, "the first proof")
        until(lambda: logged("reading logtray-alerts"), 30, "the team's topic read")
        engine.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            for path in spikes:  # logged while it is asleep
                asyncio.run(produce_values(broker.bootstrap, spike_records(path, 31)))
            alerts = [json.dumps({"pathname": path, "count": 30}).encode() for path in team]
            asyncio.run(produce(broker.bootstrap, "logtray-alerts", alerts))
            # Asleep for well over two heartbeats and the pause's slack (5 s): the length of
            # the scenario, not a wait for something.
            threading.Event().wait(max(0.0, FROZEN_S - (time.monotonic() - frozen_at)))
        finally:
            engine.proc.send_signal(signal.SIGCONT)
        until(lambda: logged("proving alerts again"), 30, "the pause found")
        until(
            lambda: (s := status()) and s.line.startswith("alerts: proven") and not s.late,
            30,
            "the proof after the pause",
        )
        told = engine.json_lines(len(spikes + team), timeout=30)
    finally:
        engine.stop()
    said = "".join(engine.stderr_lines)
    assert "not proven" not in said, said
    assert sorted(n["key"] for n in told) == sorted(spikes + team)
    history = (tmp_path / "data" / "logtray" / "alerts.jsonl").read_text().splitlines()
    kept = Counter(json.loads(line).get("pathname") for line in history)
    assert kept == dict.fromkeys(spikes + team, 1), kept  # each once, nothing else
    assert len(re.findall("proving alerts again", log_file.read_text())) == 1


FROZEN_S = 8.0
