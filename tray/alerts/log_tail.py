"""The last minutes of the logs topic, read once from outside any group (for `logtray doctor`).

Bounded: at most `budget` messages (shared by the partitions), from each partition's end
backwards, kept only when Kafka's own timestamp is within the window; the log end is taken
when reading starts, so a busy topic cannot keep it reading. The consumer assigns partitions
itself and never commits: no reader's position moves. Heartbeat records are left out (they
are logtray's own, not a service's). Works whether or not the tray runs: it asks Kafka only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from logtray.tray.alerts.heartbeat import heartbeat_mark


@dataclass(frozen=True)
class Tail:
    values: list[bytes | None]  # the messages' values, oldest first per partition
    cut: bool  # the budget ended the reading before the window's start


async def read_tail(
    bootstrap: str,
    topic: str,
    since: float,
    budget: int = 5000,
    security: dict[str, Any] | None = None,
    timeout: float = 20.0,
) -> Tail:
    """The messages on `topic` timestamped at or after `since` (epoch seconds), at most `budget`
    of them (raises what aiokafka raises when Kafka cannot be read)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from logtray.tray.alerts.kafka_source import quiet_aiokafka

    quiet_aiokafka()
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **(security or {}),
    )
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata, so the topic's partitions are known
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return Tail([], False)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        share = max(1, budget // len(tps))
        cut: set[Any] = set()  # partitions whose reading starts after their beginning
        wanted: dict[Any, int] = {}
        for tp in tps:
            first = max(starts[tp], ends[tp] - share)
            if first > starts[tp]:
                cut.add(tp)
            if ends[tp] > first:
                consumer.seek(tp, first)
                wanted[tp] = ends[tp]
            else:
                consumer.pause(tp)
        values: list[bytes | None] = []
        truncated = False  # the budget left out messages inside the window
        firsts: set[Any] = set()
        since_ms = since * 1000.0
        deadline = time.monotonic() + timeout
        while wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= wanted.get(tp, 0):
                        break
                    if tp not in firsts:
                        firsts.add(tp)
                        truncated = truncated or (tp in cut and record.timestamp >= since_ms)
                    if record.timestamp >= since_ms and heartbeat_mark(record.value) is None:
                        values.append(record.value)
            for tp in list(wanted):  # done at the end taken at the start (a gap counts too)
                if await consumer.position(tp) >= wanted[tp]:
                    del wanted[tp]
                    consumer.pause(tp)
        return Tail(values, truncated)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5.0)
