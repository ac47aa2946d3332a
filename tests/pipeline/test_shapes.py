"""The shape table (tests/shapes/): real loggers' output through the one reading and the engine.

Every fixture's first ERROR record through `normalize` gives expected.json's fields; each
logger's 12 errors sent 3 times within one second give exactly one alert, whose pathname is the
logger's group, fed as tests/pipeline/test_rule_cases.py feeds the engine and through a real
broker. riemann.config runs the same table in the Clojure harness (tests/stack/).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from logtray.pipeline.record import normalize
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.kafka_source import consume_forever
from logtray.tray.base.config import EngineConfig
from tests.pipeline.kafka_util import produce

SHAPES = Path(__file__).resolve().parent.parent / "shapes"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (SHAPES / "expected.json").read_text(encoding="utf-8")
)["loggers"]
LOGGERS = sorted(EXPECTED)


def lines(logger: str) -> list[bytes]:
    text = (SHAPES / f"{logger}.jsonl").read_text(encoding="utf-8")
    return [line.encode() for line in text.splitlines() if line]


def errors(logger: str) -> list[bytes]:
    out = [raw for raw in lines(logger) if normalize(json.loads(raw)).level == "error"]  # type: ignore[union-attr]
    return out


def latest_time(values: list[bytes]) -> float:
    """The arrival clock for a delivery of `values`: just after the last of their own times
    (records of the fixtures' day are far older than the rule's hour otherwise)."""
    times = [t for raw in values if (t := normalize(json.loads(raw)).time) is not None]  # type: ignore[union-attr]
    return (max(times) if times else time.time()) + 0.1


def test_the_table_covers_every_fixture_and_each_has_its_story() -> None:
    assert sorted(p.stem for p in SHAPES.glob("*.jsonl")) == LOGGERS
    for logger in LOGGERS:
        records = [normalize(json.loads(raw)) for raw in lines(logger)]
        assert [r.level if r else None for r in records] == ["info"] * 2 + ["error"] * 12, logger


@pytest.mark.parametrize("logger", LOGGERS)
def test_each_logger_s_error_record_normalizes_as_expected(logger: str) -> None:
    expected = EXPECTED[logger]
    record = normalize(json.loads(lines(logger)[2]))
    assert record is not None
    got = {
        "level": record.level,
        "message": record.message,
        "template": record.template,
        "file": record.file,
        "line": record.line,
        "group": record.group,
        "time": record.time,
        "error_type": record.error.type,
        "error_message": record.error.message,
        "service": record.service,
        "logger": record.logger,
    }
    if expected["time"] is not None and got["time"] is not None:
        assert got["time"] == pytest.approx(expected["time"], abs=0.001)
        got["time"] = expected["time"]
    assert got == expected
    # One call site, one group: all 12 errors fall in the same one.
    groups = {normalize(json.loads(raw)).group for raw in errors(logger)}  # type: ignore[union-attr]
    assert groups == {expected["group"]}


def errors_three_times(logger: str) -> tuple[RuleEngine, list[Alert]]:
    """The embedded engine fed a logger's errors 3 times within a second (0.3 s apart, just
    after their own times), and the alerts it raised."""
    values = errors(logger)
    alerts: list[Alert] = []
    start = latest_time(values)
    clock = [start]
    engine = RuleEngine(EngineConfig(), alerts.append, clock=lambda: clock[0])
    for i in range(3):
        clock[0] = start + i * 0.3
        engine.feed(list(values))
    return engine, alerts


@pytest.mark.parametrize("logger", LOGGERS)
def test_twelve_errors_three_times_in_a_second_alert_once(logger: str) -> None:
    assert len(errors(logger)) == 12
    engine, alerts = errors_three_times(logger)
    assert engine.malformed == 0
    assert [a.pathname for a in alerts] == [EXPECTED[logger]["group"]]
    alert = alerts[0]
    assert alert.count == 26 and alert.lineno == EXPECTED[logger]["line"]
    assert alert.message  # the window's most frequent message, or the crossing error's


def test_every_shape_through_a_real_broker_alerts_once_each(broker: Any) -> None:
    """All loggers' records on one topic, as services share program-logs, read by the engine
    from a real broker: one alert per group."""
    topic = "program-logs"
    batches = [[raw for logger in LOGGERS for raw in lines(logger)] for _ in range(3)]
    clock = latest_time(batches[0])
    alerts: list[Alert] = []
    engine = RuleEngine(EngineConfig(), alerts.append, clock=lambda: clock)

    ready = asyncio.Event()

    async def positioned(consumer: Any, committed: Any) -> None:
        # The engine reads from the end of the topic: produce once it knows where that is (its
        # partitions assigned from the metadata, and each one's position resolved).
        deadline = time.monotonic() + 10
        while not consumer.assignment():
            assert time.monotonic() < deadline, "no partition assigned"
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
        ready.set()

    async def scenario() -> None:
        await produce(broker.bootstrap, topic, [b'{"level": "info", "msg": "the topic exists"}'])
        stop = asyncio.Event()
        task = asyncio.create_task(
            consume_forever(
                topic, broker.bootstrap, engine.on_records, stop, retry_s=0.2, on_start=positioned
            )
        )
        try:
            await asyncio.wait_for(ready.wait(), 15)
            for batch in batches:
                await produce(broker.bootstrap, topic, batch)
            deadline = time.monotonic() + 20
            total = sum(len(b) for b in batches)
            while engine.rule.events + engine.malformed < total:
                assert time.monotonic() < deadline, (engine.rule.events, engine.malformed, total)
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert engine.malformed == 0
    # pino's and bunyan's programs are both a service named "payments" logging "payment <n>
    # failed" without a call site: one group, as one service logging through two libraries.
    assert sorted(a.pathname for a in alerts) == sorted({EXPECTED[n]["group"] for n in LOGGERS})
