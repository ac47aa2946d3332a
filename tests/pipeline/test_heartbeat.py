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
import socket
import time
from collections.abc import Callable
from pathlib import Path

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
