"""The full profile's alerts are kept on the stack's alerts topic, on a real broker: Riemann
(played here by what it sends: the topic record and the TCP line, the same id) publishes every
alert; the tray reads the topic from its own committed position beside the TCP listener. With
the tray closed, what Riemann raised is told on the next start in one summary; with it open,
each alert comes twice (TCP first or the topic first) and is told once; every alert is in the
history once; the position is committed only once the history file holds what was read."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtray.stack.config import StackConfig
from logtray.stack.specs import alerts_topic
from logtray.stack.topics import TopicSpec, ensure_topics, stack_topics
from logtray.tray.alerts.alert import parse_message
from logtray.tray.alerts.dedupe import alert_id
from logtray.tray.alerts.heartbeat import answered_id
from logtray.tray.base import paths
from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService, url_prefixes
from tests.conftest import free_port
from tests.pipeline.kafka_util import produce
from tests.pipeline.test_kill_resume import history_ids, wait_text
from tests.pipeline.test_resume import shown, until
from tests.support.processes import LOGTRAY

TOPIC = "logtray-alerts"
WEEK_MS = 7 * 86_400_000


def history() -> list[dict[str, Any]]:
    """The history file's records: JSON lines, split at line feeds only (a sender's U+0085 or
    U+2028 is inside a string)."""
    path = paths.history_file()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def record(n: int, path: str = "payments.py", line: int = 42) -> dict[str, Any]:
    """An alert as riemann.config's topic record has it (the TCP line adds the token)."""
    at = 1764000000.0 + n
    pathname = f"/app/{path}"
    return {
        "pathname": pathname,
        "lineno": line,
        "count": 26,
        "window_s": 10,
        "threshold": 25,
        "message": "boom",
        "level": "ERROR",
        "service": "shop",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000Z",
        "id": alert_id(pathname, at),
    }


async def to_topic(bootstrap: str, alert: dict[str, Any]) -> None:
    # One record per produce: tansu reports a partition's end as its last batch's first
    # offset + 1, so a catch-up would stop inside a batch of several (then read live).
    await produce(bootstrap, TOPIC, [json.dumps(alert).encode()])


async def over_tcp(port: int, alert: dict[str, Any]) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps({**alert, "token": "tok-123"}).encode() + b"\n")
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_the_stack_makes_its_alerts_topic_with_a_bounded_retention(broker) -> None:
    """`[stack] alerts_topic` and `alerts_retention_s` become the topic the stack makes (the
    real Kafka's retention is read back in tests/stack/test_stack_alerts_topic.py: tansu
    does not describe topic configs)."""
    stack = StackConfig()
    assert alerts_topic(stack) == TOPIC
    assert stack_topics(stack) == (TopicSpec(TOPIC, WEEK_MS),)
    assert stack_topics(StackConfig(alerts_topic="")) == ()
    assert stack_topics(StackConfig(profile="lite")) == ()
    assert alerts_topic(StackConfig(profile="team", alerts_topic="")) == TOPIC
    said = ensure_topics(broker.bootstrap, stack_topics(stack))
    assert said == "created logtray-alerts (kept 7 days)"
    # Again (a warm `stack up`): it exists; tansu cannot describe its retention, said so.
    again = ensure_topics(broker.bootstrap, stack_topics(stack))
    assert again.startswith("logtray-alerts exists; its retention was not checked ("), again


def test_alerts_riemann_kept_while_the_tray_was_closed_are_told_once_on_start(
    broker, monkeypatch
) -> None:
    ensure_topics(broker.bootstrap, (TopicSpec(TOPIC, WEEK_MS),))
    # Each commit, with the ids the history FILE held at that moment: what a kill just after
    # the commit would leave.
    commits: list[tuple[int, set[str]]] = []
    real_commit = AIOKafkaConsumer.commit

    async def commit(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        on_disk = {e["id"] for e in history()}
        await real_commit(self, offsets)
        if offsets and self._group_id.startswith("logtray-stack-alerts-"):
            commits.append((max(o.offset for o in offsets.values()), on_disk))

    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit)

    def tray() -> tuple[AlertService, io.StringIO, int]:
        out = io.StringIO()
        port = free_port()
        config = load_config(
            {"listener": {"port": port, "token": "tok-123", "hosts": ["127.0.0.1"]}}
        )
        return AlertService(config, notifier=ConsoleNotifier(out)), out, port

    sent: list[dict[str, Any]] = []

    async def riemann(port: int, alert: dict[str, Any], tcp_first: bool) -> None:
        sent.append(alert)
        sends = [over_tcp(port, alert), to_topic(broker.bootstrap, alert)]
        for send in sends if tcp_first else reversed(sends):
            await send

    async def scenario() -> tuple[list[dict[str, Any]], ...]:
        # Open: two alerts come both ways (TCP first, then the topic first): each told once.
        first, out1, port1 = tray()
        await first.start()
        first.start_stack_alerts(broker.bootstrap, TOPIC)
        try:
            await riemann(port1, record(1, "tcp-first.py", 1), tcp_first=True)
            await riemann(port1, record(2, "topic-first.py", 2), tcp_first=False)
            await until(lambda: len(history()) >= 2, "the two live alerts in the history")
            # Both copies read (the topic's too) before it closes: its position is past them.
            await until(lambda: bool(commits) and commits[-1][0] >= 2, "the position committed")
        finally:
            await first.stop()
        # Closed: Riemann raises three alerts (two of one line); its TCP sends find no one.
        for alert in (record(10), record(11, "orders.py", 7), record(12)):
            sent.append(alert)
            with pytest.raises(OSError):
                await over_tcp(port1, alert)
            await to_topic(broker.bootstrap, alert)
        second, out2, port2 = tray()
        await second.start()
        second.start_stack_alerts(broker.bootstrap, TOPIC)
        try:
            await until(lambda: bool(shown(out2)), "the summary of what was missed")
            await riemann(port2, record(20, "new.py", 3), tcp_first=True)
            await until(lambda: len(shown(out2)) >= 2, "the live alert after the summary")
            await until(lambda: commits[-1][0] >= 6, "the position past every record")
        finally:
            await second.stop()
        # Open again, nothing missed: no summary.
        third, out3, port3 = tray()
        await third.start()
        third.start_stack_alerts(broker.bootstrap, TOPIC)
        try:
            await riemann(port3, record(30, "last.py", 9), tcp_first=False)
            await until(lambda: bool(shown(out3)), "the last live alert")
        finally:
            await third.stop()
        return shown(out1), shown(out2), shown(out3)

    out1, out2, out3 = asyncio.run(scenario())
    assert [n["id"] for n in out1] == [sent[0]["id"], sent[1]["id"]], out1
    summary, live = out2[0], out2[1:]
    assert summary["key"] == "logtray:caught-up", out2
    assert summary["title"].startswith("While you were away"), summary
    assert summary["title"].endswith(": 3 alerts — payments.py:42 …"), summary
    assert summary["body"] == "payments.py:42 ×2, orders.py:7 (all are in the history)"
    assert [n["id"] for n in live] == [sent[5]["id"]], out2
    assert [n["id"] for n in out3] == [sent[6]["id"]], out3
    # Every alert once in the history, saying how it was told.
    ids = [entry["id"] for entry in history()]
    assert sorted(ids) == sorted(a["id"] for a in sent), ids
    told = {entry["id"]: entry["told"] for entry in history()}
    assert [told[alert["id"]] for alert in sent] == [
        "live",
        "live",
        "caught up",
        "caught up",
        "caught up",
        "live",
        "live",
    ]
    # Never committed past what the history file held: each record below a committed
    # position (records in the order sent, one per offset) was on disk at that commit.
    assert commits
    for offset, on_disk in commits:
        assert {a["id"] for a in sent[:offset]} <= on_disk, (offset, on_disk)


def test_logtray_listen_catches_up_from_the_stack_alerts_topic(broker, tmp_path: Path) -> None:
    """The headless listener reads the stack's alerts topic where the stack's readers read
    (`[engine] bootstrap`, else the kafka container's published port): what came while it
    was not running is one summary; a restart with nothing new tells nothing."""
    ensure_topics(broker.bootstrap, (TopicSpec(TOPIC, WEEK_MS),))
    alerts = [record(40), record(41, "orders.py", 7)]
    for alert in alerts:
        asyncio.run(to_topic(broker.bootstrap, alert))
    env = {**os.environ, "LOGTRAY_ENGINE_BOOTSTRAP": broker.bootstrap}

    def run_listen(name: str) -> tuple[Path, Path, subprocess.Popen[bytes]]:
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        args = [LOGTRAY, "listen", "--notifier", "console", "--host", "127.0.0.1"]
        args += ["--port", str(free_port())]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env)
        return out, err, proc

    out, err, proc = run_listen("first")
    try:
        wait_text(proc, err, "catching up from the alerts topic logtray-alerts")
        wait_text(proc, out, "While you were away", timeout=60)
        deadline = time.monotonic() + 60
        while not {a["id"] for a in alerts} <= set(history_ids()):
            assert time.monotonic() < deadline, history_ids()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, err.read_text()
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert [n["key"] for n in lines] == ["logtray:caught-up"], lines
    assert lines[0]["title"].endswith(": 2 alerts — payments.py:42 …"), lines
    assert sorted(history_ids()) == sorted(a["id"] for a in alerts)
    # Again, with one new alert: it is the only thing told (its position was kept).
    late = record(42, "late.py", 5)
    asyncio.run(to_topic(broker.bootstrap, late))
    out, err, proc = run_listen("second")
    try:
        wait_text(proc, out, "late.py", timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, err.read_text()
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and "late.py" in lines[0]["title"], lines
    assert sorted(history_ids()) == sorted(a["id"] for a in [*alerts, late])


# What a stranger may write to the stack's alerts topic (any local process reaches the broker):
# bytes, text, JSON of any shape, alert-like objects with odd fields, heartbeat answers.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ALERTISH = st.fixed_dictionaries(
    {"pathname": st.text(max_size=40)},
    optional={
        "id": st.text(max_size=30),
        "count": JSON,
        "lineno": JSON,
        "time": JSON,
        "evidence": JSON,
        "url": st.text(max_size=40),
        "heartbeat": st.text(max_size=10),
    },
)
VALUES = st.lists(
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | JSON.map(lambda v: json.dumps(v).encode())
    | ALERTISH.map(lambda v: json.dumps(v).encode()),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=VALUES, after=VALUES)
def test_whatever_is_on_the_stack_alerts_topic_cannot_crash_the_tray(
    broker, before: list[bytes], after: list[bytes]
) -> None:
    """Records published while the tray was closed (caught up) and while it runs (live): the
    reader goes on, the history holds each alert the listener's own parsing takes, once by
    id, and never a heartbeat answer."""
    topic = f"stack-alerts-{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    config = load_config({"listener": {"token": "tok-123"}, "alerts": {"history_size": 1000}})
    prefixes = url_prefixes(config)
    sentinel = record(99, "sentinel.py", 1)

    async def scenario() -> None:
        for value in before:
            await produce(broker.bootstrap, topic, [value])
        service = AlertService(config, notifier=ConsoleNotifier(out))
        await service.start(listen=False)
        service.start_stack_alerts(broker.bootstrap, topic)
        try:
            for value in [*after, json.dumps(sentinel).encode()]:
                await produce(broker.bootstrap, topic, [value])
            await until(
                lambda: sentinel["id"] in {e.get("id") for e in history()}, "the sentinel", 60
            )
            assert service.stack_alerts_running
        finally:
            await service.stop()

    for path in (paths.history_file(), paths.data_dir() / "reader-id"):
        path.unlink(missing_ok=True)  # each example its own first start
    asyncio.run(scenario())
    expected: list[str | None] = []
    seen: set[str] = set()
    for value in [*before, *after, json.dumps(sentinel).encode()]:
        if not value:  # an empty record is no message (the reader skips it unread)
            continue
        alert = parse_message(value.decode("utf-8", "replace"), prefixes)
        if alert is None or answered_id(alert) is not None:
            continue
        if alert.id is not None:
            if alert.id in seen:
                continue
            seen.add(alert.id)
        expected.append(alert.id)
    kept = [entry.get("id") for entry in history()]
    assert sorted(kept, key=str) == sorted(expected, key=str)
    assert all("heartbeat" not in entry for entry in history())


def test_a_reader_started_after_the_start_counts_what_an_earlier_run_never_told(
    broker, monkeypatch
) -> None:
    """As the tray does: the stack's alerts topic is read once it sees the stack's Kafka run,
    after its start. What a killed run kept but never told is in that catch-up's one summary,
    not in a summary of its own before it."""
    from logtray.tray.alerts.alert import Alert
    from logtray.tray.alerts.history import AlertHistory
    from logtray.tray.delivery import service as service_module

    monkeypatch.setattr(service_module, "UNTOLD_WAIT_S", 600.0)  # only the catch-up tells it
    ensure_topics(broker.bootstrap, (TopicSpec(TOPIC, WEEK_MS),))
    kept = AlertHistory(paths.history_file())
    untold = Alert(pathname="/app/pay.py", lineno=3, count=30, id="untold-1")
    kept.append({"received": round(time.time(), 3), "peer": "t", **untold.to_record()})
    kept.close()
    missed = record(40, "missed.py", 4)
    out = io.StringIO()
    service = AlertService(load_config({}), notifier=ConsoleNotifier(out))

    async def scenario() -> None:
        await to_topic(broker.bootstrap, missed)
        await service.start(listen=False, catch_up_expected=True)
        await asyncio.sleep(0)  # a loop turn: what the start scheduled runs first, as in the tray
        service.start_stack_alerts(broker.bootstrap, TOPIC)
        try:
            await until(lambda: bool(shown(out)), "the catch-up summary")
        finally:
            await service.stop()

    asyncio.run(scenario())
    [summary] = shown(out)
    assert summary["key"] == "logtray:caught-up", summary
    assert summary["ids"] == ["untold-1", missed["id"]], summary
