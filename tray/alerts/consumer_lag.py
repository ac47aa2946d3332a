"""How far a Kafka consumer group (Riemann's) is behind the log topic: records, and seconds.

Read from outside the group: the group's committed offsets, the log end, and the time of the
oldest record the group has not read. The reading consumer assigns the partitions itself, so it
never joins the group (Riemann's partitions stay Riemann's) and it never commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

RIEMANN_GROUP = "logtray-riemann"  # riemann.config's KAFKA_GROUP_ID (stack/specs.py)


@dataclass(frozen=True)
class GroupLag:
    records: int  # records produced that the group has not read
    seconds: float | None  # how old the oldest of them is (None: none behind)

    def text(self, who: str) -> str:
        if self.records == 0 or self.seconds is None:
            return f"{who} has read every log record"
        return f"{who} is {self.records:,} records ({self.seconds:.0f} s) behind the logs"


async def group_lag(bootstrap: str, topic: str, group: str, now: float) -> GroupLag:
    """The group's lag on `topic` (raises what aiokafka raises when Kafka cannot be read)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from logtray.tray.alerts.kafka_source import quiet_aiokafka

    quiet_aiokafka()
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # never moves the group's offsets
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata, so the topic's partitions are known
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return GroupLag(0, None)
        consumer.assign(tps)  # manual assignment: no group membership, no rebalance
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        behind: dict[Any, int] = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            # No commit yet: Riemann starts at the earliest offset.
            position = starts[tp] if committed is None else max(committed, starts[tp])
            if ends[tp] > position:
                behind[tp] = position
        records = sum(ends[tp] - position for tp, position in behind.items())
        oldest: float | None = None
        for tp, position in behind.items():
            consumer.seek(tp, position)
            batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
            for record in batch.get(tp, []):
                stamp = record.timestamp / 1000.0
                oldest = stamp if oldest is None else min(oldest, stamp)
        return GroupLag(records, None if oldest is None else max(0.0, now - oldest))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5.0)
