"""`logtray doctor` reads the last minutes of the logs topic on a real broker and tells, per
service, the records read, the logger's convention, the errors counted and what it could not
read (the reason and one example, cleaned for the terminal); nothing moves a reader's position."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from logtray.pipeline import shapes
from logtray.tray.alerts.log_tail import read_tail
from logtray.tray.base.config import load_config
from logtray.tray.base.kafka_address import KafkaAddress
from logtray.tray.commands.doctor import check_logs, render

SHAPES = Path(__file__).resolve().parent.parent / "shapes"
TOPIC = "program-logs"


async def produce(
    bootstrap: str, values: list[tuple[bytes, float]], partition: int | None = 0
) -> None:
    """Into one partition by default, so the first of each kind read is the first sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, at in values:
            await producer.send_and_wait(
                TOPIC, value, partition=partition, timestamp_ms=int(at * 1000)
            )
    finally:
        await producer.stop()


def lines(name: str) -> list[bytes]:
    return (SHAPES / f"{name}.jsonl").read_bytes().splitlines()


def test_doctor_tells_each_services_records_shape_errors_and_what_it_could_not_read(broker):
    now = time.time()
    recent = [
        *lines("node-pino"),  # the service "payments" (pino's name)
        *lines("java-log4j2"),  # "payments" too (its loggerName)
        *lines("go-zap"),  # names no service
        *(
            json.dumps({"service": "billing", "msg": f"charge {i} failed"}).encode()
            for i in range(4)
        ),
        b"payment \x1b[31mfailed\xe2\x80\xae in plain text",  # not JSON: an escape, a bidi mark
        b"[1, 2, 3]",
        b'{"logtray_heartbeat": "hb-1"}',  # logtray's own: left out
    ]
    old = [json.dumps({"service": "old", "level": "error", "msg": "gone"}).encode()]
    asyncio.run(
        produce(broker.bootstrap, [(v, now - 3600) for v in old] + [(v, now) for v in recent])
    )
    config = load_config({"engine": {"bootstrap": broker.bootstrap, "topic": TOPIC}})
    kafka = KafkaAddress(broker.bootstrap, "config", "the test")

    checks = check_logs(config, kafka, minutes=10)

    by_name = {c.name: c for c in checks}
    assert by_name["logs"].ok
    assert by_name["logs"].detail == (f"48 records of 3 service(s) in the last 10 min of {TOPIC!r}")
    assert "logs of old" not in by_name  # an hour old: outside the window
    payments = by_name["logs of payments"]
    assert payments.ok and payments.detail == (
        f"28 records; {shapes.PINO} ×14, {shapes.LOG4J2} ×14; 24 errors counted"
    )
    billing = by_name["logs of billing"]
    assert not billing.ok
    assert billing.detail.startswith("4 records (JSON (msg)), none with a level the rule reads")
    assert 'e.g. {"service": "billing", "msg": "charge 0 failed"}' in billing.detail
    assert "add a level field" in billing.fix and "docs/languages.md" in billing.fix
    unnamed = by_name["logs of (no service named)"]
    assert not unnamed.ok
    assert unnamed.detail == (
        f"16 records; {shapes.ZAP} ×14; 12 errors counted; 2 unreadable, e.g. not JSON: "
        "payment <U+001B>[31mfailed<U+202E> in plain text"
    )
    assert unnamed.fix.startswith("send one JSON object per Kafka message")
    # The failing services first, each with its fix under it.
    report = render(checks)
    assert report.splitlines()[1].startswith("FAIL  logs of ")
    assert "      fix: add a level field to every record" in report
    assert "\x1b" not in report and "\u202e" not in report
    assert report.endswith("2 ok, 2 to fix")

    # Read again: the same (doctor moved no position, and reads from the end each time).
    assert check_logs(config, kafka, minutes=10) == checks


def test_the_tail_is_bounded_across_partitions_and_says_when_it_was_cut(broker):
    now = time.time()
    values = [(json.dumps({"level": "info", "msg": f"m{i}"}).encode(), now) for i in range(40)]
    asyncio.run(produce(broker.bootstrap, values, partition=None))  # spread over partitions
    whole = asyncio.run(read_tail(broker.bootstrap, TOPIC, now - 60))
    assert sorted(whole.values) == sorted(v for v, _ in values) and not whole.cut
    part = asyncio.run(read_tail(broker.bootstrap, TOPIC, now - 60, budget=8))
    assert 0 < len(part.values) <= 8 and part.cut
    assert set(part.values) <= set(whole.values)


def test_a_quiet_topic_and_an_unreachable_kafka_are_told_not_failed(broker):
    from tests.conftest import free_port

    config = load_config({"engine": {"bootstrap": broker.bootstrap, "topic": "quiet"}})
    asyncio.run(produce(broker.bootstrap, []))
    (quiet,) = check_logs(config, KafkaAddress(broker.bootstrap, "config", "the test"))
    assert quiet.ok and quiet.name == "logs"
    assert quiet.detail == "no service wrote to 'quiet' in the last 10 min"
    gone = f"127.0.0.1:{free_port()}"
    (down,) = check_logs(config, KafkaAddress(gone, "config", "the test"))
    assert down.ok and down.detail.startswith(f"not checked: cannot read 'quiet' at {gone}")


def test_minutes_are_bounded() -> None:
    import argparse

    import pytest

    from logtray.tray.commands.doctor import _minutes

    assert _minutes("2.5") == 2.5
    for bad in ("0", "-1", "nan", "inf", "1441", "ten"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a number of minutes"):
            _minutes(bad)
