"""Alerts from a shared Kafka topic (a team's Riemann or rule engine publishes them there).

Every desktop reads the whole topic (no consumer group, see kafka_source), so no desktop steals
another's alerts. Each message is one alert as the listener takes it (JSON object or the
original text line), fed to the same router: same policy, history and notifiers. The
subscription ([alerts_topic] services, paths, min_count, owners) keeps what this desktop wants;
the rest is counted, never stored. On start, the alerts of the last `catch_up_s` seconds (at
most MAX_CATCH_UP of them) become one summary, so a desktop that slept is told, not flooded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.kafka_source import (
    Records,
    consume_forever,
    quiet_aiokafka,
    security_options,
)
from logtray.tray.alerts.subscription import Subscription, subscription_from
from logtray.tray.base.config import AlertsTopicConfig

log = logging.getLogger(__name__)

MAX_CATCH_UP = 1000
CATCH_UP_TIMEOUT_S = 15.0


def consumer_options(config: AlertsTopicConfig) -> dict[str, Any]:
    """aiokafka security options from the config (only those that apply)."""
    return security_options(config)


def catch_up_summary(alerts: Sequence[Alert], seconds: float) -> Alert:
    """One alert that tells what was missed: how many, and the files most often in them."""
    files = Counter(a.short_name for a in alerts)
    listed = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in files.most_common(5))
    more = len(files) - 5
    noun = "alert" if len(alerts) == 1 else "alerts"
    minutes = max(1, round(seconds / 60))
    return Alert(
        title=f"While you were away: {len(alerts)} team {noun} in the last {minutes} min",
        message=listed + (f" and {more} more files" if more > 0 else ""),
        count=None,
        time=max((a.time for a in alerts if a.time is not None), default=None),
        extra={"caught_up": len(alerts), "files": len(files)},
    )


async def read_recent(
    topic: str,
    bootstrap: str,
    since_ms: int,
    options: dict[str, Any],
    limit: int = MAX_CATCH_UP,
) -> list[bytes]:
    """The values on `topic` written since `since_ms` (at most the last `limit` per partition,
    and `limit` in all, newest kept), or nothing when Kafka cannot be read now."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    quiet_aiokafka()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **options
    )
    values: list[tuple[int, bytes]] = []
    try:
        await asyncio.wait_for(consumer.start(), CATCH_UP_TIMEOUT_S)
        await consumer.topics()  # metadata of every topic: partitions_for_topic needs it
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        left = set()
        for tp in tps:
            start = max(begins[tp], ends[tp] - limit)
            consumer.seek(tp, start)
            if start < ends[tp]:
                left.add(tp)
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while left and time.monotonic() < deadline:
            batches = await consumer.getmany(*left, timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp] and record.timestamp >= since_ms and record.value:
                        values.append((record.timestamp, record.value))
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    except Exception as exc:  # the live consumer says why Kafka cannot be read, once
        log.debug("catch-up on %s skipped: %s", topic, exc)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5.0)
    values.sort(key=lambda item: item[0])
    return [value for _, value in values[-limit:]]


async def run_alerts_topic(
    config: AlertsTopicConfig,
    accept: Callable[[Alert, str, float], None],
    stop: asyncio.Event,
    on_status: Callable[[str], None] | None = None,
    url_prefixes: Sequence[str] = (),
    subscription: Subscription | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Feed every wanted alert on the topic to `accept(alert, peer, received_at)` until `stop`.

    Junk records are skipped; an alert's url must be under `url_prefixes` (tray.links)."""
    peer = f"kafka:{config.topic}"
    subscription = subscription if subscription is not None else subscription_from(config)
    options = consumer_options(config)

    def wanted(value: bytes | None) -> Alert | None:
        if not value:
            return None
        alert = parse_message(value.decode("utf-8", "replace"), url_prefixes)
        return alert if alert is not None and subscription.take(alert) else None

    if config.catch_up_s > 0:
        since_ms = int((clock() - config.catch_up_s) * 1000)
        backlog = [
            alert
            for value in await read_recent(config.topic, config.bootstrap, since_ms, options)
            if (alert := wanted(value)) is not None
        ]
        if backlog:
            accept(catch_up_summary(backlog, config.catch_up_s), peer, time.perf_counter())

    def on_records(records: Records) -> None:
        received = time.perf_counter()
        for record in records:
            alert = wanted(record.value)
            if alert is not None:
                accept(alert, peer, received)

    await consume_forever(
        config.topic,
        config.bootstrap,
        on_records,
        stop,
        options=options,
        on_status=on_status,
    )
