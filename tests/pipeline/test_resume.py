"""Nothing lost while logtray is stopped, on a real broker: a desktop reading the alerts topic
and the lite profile's engine each read on from their own committed position, so what came
while they were stopped is told on start (the desktop: in one summary), each alert once."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from typing import Any

from logtray.tray.alerts.kafka_source import Committed, Resume, consume_forever
from logtray.tray.base import paths
from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.pipeline.kafka_util import produce

TOPIC = "logtray-alerts"


def shown(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def history() -> list[dict[str, Any]]:
    path = paths.history_file()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def until(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def send_until(
    send: Callable[[int], Any], predicate: Callable[[], bool], what: str, tries: int = 20
) -> None:
    """Send, and again each time nothing was read within a second: a first start reads from
    the end, which is where the consumer is placed only once it has started."""
    for n in range(1, tries + 1):
        await send(n)
        deadline = time.monotonic() + 1.0
        while not predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if predicate():
            return
    raise AssertionError(f"{what}: nothing read after {tries} sends")


def alert(n: int, path: str = "payments.py", line: int = 42) -> bytes:
    return json.dumps(
        {"id": f"alert-{n:04d}", "pathname": f"/srv/{path}", "lineno": line, "count": 30}
    ).encode()


def test_a_desktop_reads_on_from_its_own_position_and_tells_what_it_missed_once(broker) -> None:
    def desktop(**alerts: Any) -> tuple[AlertService, io.StringIO]:
        out = io.StringIO()
        config = load_config(
            {
                "alerts_topic": {"enabled": True, "bootstrap": broker.bootstrap, "catch_up_s": 0},
                "alerts": alerts,
            }
        )
        return AlertService(config, notifier=ConsoleNotifier(out)), out

    async def scenario() -> tuple[list[dict[str, Any]], ...]:
        # First start: nothing committed, catch_up_s 0: from the end. Send until one is read
        # live (the consumer may not have placed itself yet when the first is sent).
        first, out1 = desktop()
        await first.start(listen=False)
        try:
            await send_until(
                lambda n: produce(broker.bootstrap, TOPIC, [alert(n, "live.py", 1)]),
                lambda: bool(shown(out1)),
                "the first desktop",
            )
        finally:
            await first.stop()
        # Stopped: three alerts come (two of one line), and a fourth past the record budget.
        # One at a time: tansu 0.6 reports a partition's end as its last batch's first
        # offset + 1, so a catch-up would stop inside a batch of several (the rest is then
        # read live: nothing lost, but this test counts the summary).
        for value in (alert(100), alert(101, "orders.py", 7), alert(102), alert(103)):
            await produce(broker.bootstrap, TOPIC, [value])
        second, out2 = desktop(catch_up_max_records=3)
        await second.start(listen=False)
        try:
            await until(lambda: bool(shown(out2)), "the summary")
            # Something new while it runs is live, as usual.
            await produce(broker.bootstrap, TOPIC, [alert(200, "new.py", 3)])
            await until(lambda: len(shown(out2)) >= 2, "the live alert after the summary")
        finally:
            await second.stop()
        # A third start missed nothing: no summary, nothing told again.
        third, out3 = desktop()
        await third.start(listen=False)
        try:
            await produce(broker.bootstrap, TOPIC, [alert(300, "last.py", 9)])
            await until(lambda: bool(shown(out3)), "the last live alert")
        finally:
            await third.stop()
        return shown(out1), shown(out2), shown(out3)

    out1, out2, out3 = asyncio.run(scenario())
    summary, live = out2[0], out2[1:]
    assert summary["key"] == "logtray:caught-up", out2
    # Away since the first desktop's last commit (a minute at most, said as 1 min); the oldest
    # of the four is over the budget of 3: counted, not read.
    assert summary["title"] == "While you were away (1 min): 3 alerts — payments.py:42 …", out2
    assert summary["body"] == (
        "payments.py:42 ×2, orders.py:7 (all are in the history)\n"
        "1 older record not read (past [alerts] catch_up_max_age or catch_up_max_records)"
    )
    assert [n["id"] for n in live] == ["alert-0200"], out2
    assert [n["id"] for n in out3] == ["alert-0300"], out3
    # Every alert read is in the history once, saying how it was told.
    told = {entry["id"]: entry["told"] for entry in history()}
    ids = [entry["id"] for entry in history()]
    assert len(ids) == len(set(ids)), ids
    assert {k: v for k, v in told.items() if not k.startswith("alert-000")} == {
        "alert-0101": "caught up",
        "alert-0102": "caught up",
        "alert-0103": "caught up",
        "alert-0200": "live",
        "alert-0300": "live",
    }
    assert all(told[n["id"]] == "live" for n in out1)


def spike(path: str, count: int) -> list[bytes]:
    base = time.time() - 3
    return [
        json.dumps(
            {
                "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i * 0.05))
                + f".{int((base + i * 0.05) % 1 * 1000):03d}Z",
                "level": "error",
                "message": "database connection refused",
                "pathname": path,
                "lineno": 42,
            }
        ).encode()
        for i in range(count)
    ]


def test_the_engine_evaluates_what_was_logged_while_it_was_stopped(broker) -> None:
    topic = "program-logs"
    config = load_config(
        {"engine": {"bootstrap": broker.bootstrap, "topic": topic}, "stack": {"heartbeat_s": 0}}
    )
    info = json.dumps({"level": "info", "pathname": "/app/x.py", "message": "ok"}).encode()

    async def run_engine(
        work: Callable[[AlertService], Any],
    ) -> tuple[list[dict[str, Any]], AlertService]:
        out = io.StringIO()
        service = AlertService(config, notifier=ConsoleNotifier(out))
        await service.start(listen=False)
        service.start_engine()
        try:
            await work(service)
        finally:
            await service.stop()
        return shown(out), service

    async def scenario() -> tuple[Any, ...]:
        async def read_one(service: AlertService) -> None:
            # The first start reads from the end: log until it has read a record.
            assert service.engine is not None
            engine = service.engine
            await send_until(
                lambda n: produce(broker.bootstrap, topic, [info]),
                lambda: engine.rule.events > 0,
                "the first engine",
            )

        first, _ = await run_engine(read_one)
        # Stopped: a spike of 40 errors is logged (threshold 25 in 10 s).
        await produce(broker.bootstrap, topic, spike("/app/payments.py", 40))

        async def alerted(service: AlertService) -> None:
            await until(lambda: bool(history()), "the spike's alert")

        second, _ = await run_engine(alerted)

        async def warmed(service: AlertService) -> None:
            # Started again: it reads the spike again only to rebuild its windows.
            reader = service.engine_reader
            assert reader is not None
            await until(lambda: reader.warmed >= 40, "the warm-up")
            await produce(broker.bootstrap, topic, [info])
            assert service.engine is not None
            engine = service.engine
            await until(lambda: engine.rule.events > 40, "a record after the warm-up")

        third, service = await run_engine(warmed)
        return first, second, third, service

    first, second, third, service = asyncio.run(scenario())
    assert first == []
    assert [n["key"] for n in second] == ["/app/payments.py"], second
    assert third == [], "told again on the next start"
    assert service.engine_reader is not None and service.engine_reader.dropped == 1
    entries = history()
    assert [(e["pathname"], e["told"]) for e in entries] == [("/app/payments.py", "live")]


def test_a_consumer_recreated_after_a_lost_connection_reads_on_from_its_position(broker) -> None:
    """The reader fails on a record (as when aiokafka gives up on the connection): the consumer
    made anew reads on from the committed position, so neither that record nor the ones
    published with it are lost (a fresh consumer at the topic's end would skip them all)."""
    topic = "recreated"
    got: list[bytes] = []
    failed = asyncio.Event()
    starts: list[dict[Any, Committed]] = []

    def on_records(records: Any) -> None:
        for record in records:
            if record.value == b"trigger" and not failed.is_set():
                failed.set()
                raise ConnectionError("the connection is lost (test)")
            got.append(record.value)

    async def on_start(consumer: Any, committed: dict[Any, Committed]) -> None:
        starts.append(committed)

    async def scenario() -> None:
        stop = asyncio.Event()
        reading = asyncio.create_task(
            consume_forever(
                topic,
                broker.bootstrap,
                on_records,
                stop,
                retry_s=0.1,
                on_start=on_start,
                resume=Resume("logtray-test-recreated", lambda: None),
            )
        )
        try:
            await send_until(
                lambda n: produce(broker.bootstrap, topic, [f"before-{n}".encode()]),
                lambda: bool(got),
                "the first read",
            )
            await produce(broker.bootstrap, topic, [b"trigger", b"during-1", b"during-2"])
            after = {b"trigger", b"during-1", b"during-2"}
            await until(lambda: after <= set(got), "the records after the lost connection")
        finally:
            stop.set()
            await asyncio.wait_for(reading, 15)

    asyncio.run(scenario())
    assert len(starts) == 2 and not starts[0] and starts[1], starts
    # What was read before the failure was committed: not read again. What the failed batch
    # held on other partitions may be read twice (at least once; the router drops repeats
    # by alert id).
    before = [value for value in got if value.startswith(b"before-")]
    assert len(before) == len(set(before)), got
