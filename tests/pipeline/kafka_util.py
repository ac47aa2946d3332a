"""Small aiokafka helpers for the pipeline tests (reading back what reached the broker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def read_topic(
    bootstrap: str, topic: str, at_least: int, timeout: float = 15.0, **options: Any
) -> list[bytes]:
    """Everything on `topic` from the start, once at least `at_least` messages are there."""

    async def go() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            **options,
        )
        await consumer.start()
        out: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < at_least and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend(r.value for r in records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(go())


async def produce(bootstrap: str, topic: str, values: list[bytes], **options: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()
