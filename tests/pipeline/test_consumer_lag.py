"""Riemann's consumer lag, read from outside its group against a real broker: records and
seconds behind, never joining the group nor moving its offsets; `logtray doctor` says late."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from logtray.tray.alerts.consumer_lag import RIEMANN_GROUP, group_lag
from logtray.tray.base.config import load_config
from logtray.tray.commands.doctor import check_riemann_lag


async def riemann_reads(bootstrap: str, topic: str, count: int) -> None:
    """What Riemann's consumer does: read in its group, commit what it read."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=RIEMANN_GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        for _ in range(count):
            await asyncio.wait_for(consumer.getone(), 30)
        await consumer.commit()
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, count: int, age_s: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        stamp = int((time.time() - age_s) * 1000)
        for i in range(count):
            await producer.send_and_wait(topic, b'{"level": "info"}', timestamp_ms=stamp + i)
    finally:
        await producer.stop()


def test_lag_in_records_and_seconds_and_doctor_says_late(broker):
    topic = "program-logs"

    async def scenario() -> tuple[object, object]:
        await produce(broker.bootstrap, topic, 20, age_s=120)
        await riemann_reads(broker.bootstrap, topic, 5)
        first = await group_lag(broker.bootstrap, topic, RIEMANN_GROUP, time.time())
        again = await group_lag(broker.bootstrap, topic, RIEMANN_GROUP, time.time())
        return first, again

    first, again = asyncio.run(scenario())
    assert first.records == 15  # type: ignore[attr-defined]
    seconds = first.seconds  # type: ignore[attr-defined]
    assert seconds is not None and 110 <= seconds <= 600
    assert again.records == 15  # type: ignore[attr-defined]  # reading moved nothing
    config = load_config(
        {
            "engine": {"bootstrap": broker.bootstrap, "topic": topic},
            "stack": {"profile": "full", "max_alert_delay_s": 30},
        }
    )
    check = check_riemann_lag(config)
    assert not check.ok and check.detail.startswith("alerts are late: Riemann's consumer is 15")
    assert "max_alert_delay_s" in check.fix
    relaxed = load_config(
        {
            "engine": {"bootstrap": broker.bootstrap, "topic": topic},
            "stack": {"profile": "full", "max_alert_delay_s": 3600},
        }
    )
    assert check_riemann_lag(relaxed).ok


def test_no_kafka_is_not_checked_not_a_failure():
    from tests.conftest import free_port

    config = load_config(
        {"engine": {"bootstrap": f"127.0.0.1:{free_port()}"}, "stack": {"profile": "full"}}
    )
    check = check_riemann_lag(config)
    assert check.ok and check.detail.startswith("not checked: cannot read Kafka")
    lite = load_config({"stack": {"profile": "lite"}})
    assert check_riemann_lag(lite).detail == "not checked: the lite profile has no Riemann"
