"""Alerts from a shared Kafka topic (a team's Riemann or rule engine publishes them there).

Every desktop reads the whole topic from a position of its own (no group sharing, see
kafka_source), so no desktop steals another's alerts. Each message is one alert as the
listener takes it (JSON object or the original text line), fed to the same router: same
policy, history and notifiers. The
subscription ([alerts_topic] services, paths, min_count, owners) keeps what this desktop wants;
the rest is counted, never stored. On start, the alerts of the last `catch_up_s` seconds (at
most MAX_CATCH_UP of them) become one summary, so a desktop that slept is told, not flooded;
the live reading goes on from exactly where that catch-up ended (none missed, none twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.kafka_source import (
    Committed,
    Records,
    Resume,
    consume_forever,
    security_options,
)
from logtray.tray.alerts.subscription import Subscription, subscription_from
from logtray.tray.base.config import AlertsTopicConfig

log = logging.getLogger(__name__)

MAX_CATCH_UP = 1000
CATCH_UP_TIMEOUT_S = 15.0


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


@dataclass(frozen=True)
class CaughtUp:
    """What a start found missed: the wanted alerts (oldest first), how long this desktop was
    away (None: it cannot tell), and how many records were skipped unread (older than the
    bound or over the budget)."""

    alerts: list[Alert]
    away_s: float | None
    skipped: int


async def catch_up(
    consumer: Any,
    since_ms: int,
    limit: int = MAX_CATCH_UP,
    timeout_s: float = CATCH_UP_TIMEOUT_S,
    stop: asyncio.Event | None = None,
    at_phase: Callable[[str], Awaitable[None]] | None = None,
) -> list[tuple[int, bytes]]:
    """(timestamp ms, value) of what was written since `since_ms` (`catch_up_from` without
    committed positions)."""
    values, _ = await catch_up_from(consumer, since_ms, {}, limit, timeout_s, stop, at_phase)
    return values


async def catch_up_from(
    consumer: Any,
    since_ms: int,
    committed: dict[Any, int],
    limit: int = MAX_CATCH_UP,
    timeout_s: float = CATCH_UP_TIMEOUT_S,
    stop: asyncio.Event | None = None,
    at_phase: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[list[tuple[int, bytes]], int]:
    """(timestamp ms, value) of what was written since `since_ms` (and from the `committed`
    offset of a partition that has one) on the started `consumer`'s partitions, up to each
    partition's end as it is now, oldest first (at most the newest `limit` per partition and
    in all); and how many records after a committed offset were skipped for those bounds.

    The consumer is then left at exactly those ends, so its next read is the first message
    after them: nothing published meanwhile falls between the catch-up and the live reading,
    and nothing is in both. Never raises for Kafka: what cannot be read is skipped (the live
    reading says why Kafka cannot be read). `at_phase` is a seam for tests: awaited with
    "ends" once the ends are taken, and "caught up" just before the live reading."""
    tps = sorted(consumer.assignment())
    if not tps:
        return [], 0
    try:
        ends: dict[Any, int] = await consumer.end_offsets(tps)
    except Exception as exc:
        log.debug("catch-up skipped: %s", exc)
        return [], 0
    values: list[tuple[int, bytes]] = []
    skipped = 0
    try:
        if at_phase is not None:
            await at_phase("ends")
        starts = await _catch_up_starts(consumer, ends, since_ms, limit)
        for tp, offset in committed.items():
            if tp in starts:
                skipped += max(0, min(starts[tp], ends[tp]) - offset)
                starts[tp] = min(ends[tp], max(starts[tp], offset))
        left = set()
        for tp in tps:
            consumer.seek(tp, starts[tp])
            if starts[tp] < ends[tp]:
                left.add(tp)
        deadline = time.monotonic() + timeout_s
        while left and time.monotonic() < deadline and not (stop and stop.is_set()):
            batches = await consumer.getmany(*left, timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    # A record at or past its partition's end is the live reading's.
                    if record.offset < ends[tp] and record.timestamp >= since_ms and record.value:
                        values.append((record.timestamp, record.value))
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        if left and not (stop and stop.is_set()):
            log.info("catch-up stopped after %g s: what it had not read is skipped", timeout_s)
    except Exception as exc:
        log.debug("catch-up cut short: %s", exc)
    finally:
        for tp in tps:
            # Also drops what was fetched past the end: the live reading fetches it again.
            with contextlib.suppress(Exception):  # a partition gone meanwhile
                consumer.seek(tp, ends[tp])
    if at_phase is not None:
        await at_phase("caught up")
    values.sort(key=lambda item: item[0])
    skipped += max(0, len(values) - limit)
    return values[-limit:] if limit else [], skipped


async def _catch_up_starts(
    consumer: Any, ends: dict[Any, int], since_ms: int, limit: int
) -> dict[Any, int]:
    """Where each partition's catch-up begins: the first offset at `since_ms` (when the broker
    can tell), never more than `limit` before the end, never before the log's beginning."""
    begins = await consumer.beginning_offsets(list(ends))
    try:
        at_time = await consumer.offsets_for_times({tp: since_ms for tp in ends})
    except Exception:  # a broker that cannot look up times: the limit and timestamps bound it
        at_time = {}
    starts = {}
    for tp, end in ends.items():
        if tp not in at_time:  # not looked up: from the beginning (timestamps filter)
            first = begins[tp]
        elif at_time[tp] is None:  # nothing that recent on this partition
            first = end
        else:
            first = at_time[tp].offset
        starts[tp] = min(end, max(begins[tp], end - limit, first))
    return starts


async def run_alerts_topic(
    config: AlertsTopicConfig,
    accept: Callable[[Alert, str, float], None],
    stop: asyncio.Event,
    on_status: Callable[[str], None] | None = None,
    url_prefixes: Sequence[str] = (),
    subscription: Subscription | None = None,
    clock: Callable[[], float] = time.time,
    at_phase: Callable[[str], Awaitable[None]] | None = None,
    resume: Resume | None = None,
    on_caught_up: Callable[[CaughtUp, str], None] | None = None,
    max_age_s: float = 86400.0,
    max_records: int = MAX_CATCH_UP,
) -> None:
    """Feed every wanted alert on the topic to `accept(alert, peer, received_at)` until `stop`.

    Junk records are skipped; an alert's url must be under `url_prefixes` (tray.links). The
    catch-up and the live reading are one consumer: the first connection reads what was
    missed up to the ends it found, then reads on from exactly there (`catch_up_from`;
    `at_phase` is its seam for tests). With `resume`, that is from the committed position
    (at most `max_age_s` old, `max_records` records) and `on_caught_up(caught_up, peer)` takes
    it, also when nothing was missed; a reconnection reads on from the committed position,
    live. Without, the first connection reads the last `catch_up_s` and `accept` takes one
    summary alert."""
    peer = f"kafka:{config.topic}"
    subscription = subscription if subscription is not None else subscription_from(config)
    options = security_options(config)

    def wanted(value: bytes | None) -> Alert | None:
        if not value:
            return None
        alert = parse_message(value.decode("utf-8", "replace"), url_prefixes)
        return alert if alert is not None and subscription.take(alert) else None

    catching_up = True
    started_ms = int(clock() * 1000)

    async def on_start(consumer: Any, committed: dict[Any, Committed]) -> None:
        # Only the first connection catches up; a reconnection reads on from its committed
        # position (with `resume`), or from the end.
        nonlocal catching_up
        if not catching_up:
            return
        catching_up = False
        if committed:  # read before: from there, at most max_age_s old
            since_ms = started_ms - int(max_age_s * 1000)
        elif config.catch_up_s > 0:  # never read before (or no resume): the last catch_up_s
            since_ms = started_ms - int(config.catch_up_s * 1000)
        else:
            if on_caught_up is not None:  # caught up on nothing: said all the same (below)
                on_caught_up(CaughtUp([], None, 0), peer)
            return
        offsets = {tp: c.offset for tp, c in committed.items()}
        recent, skipped = await catch_up_from(
            consumer, since_ms, offsets, max_records, stop=stop, at_phase=at_phase
        )
        # What came before this start is what was missed: one summary. What came since (the
        # broker was slow to answer, the topic was created just now) is shown as it came.
        missed: list[Alert] = []
        since_start: list[Alert] = []
        for stamp, value in recent:
            alert = wanted(value)
            if alert is not None:
                (missed if stamp < started_ms else since_start).append(alert)
        received = time.perf_counter()
        if on_caught_up is not None:
            # Also when nothing was missed: the one summary of this start may count alerts
            # an earlier run kept but never told.
            left = [c.at for c in committed.values() if c.at is not None]
            away = started_ms / 1000 - min(left) if left else None
            on_caught_up(CaughtUp(missed, away, skipped), peer)
        elif missed:
            accept(catch_up_summary(missed, config.catch_up_s), peer, received)
        for alert in since_start:
            accept(alert, peer, received)

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
        on_start=on_start,
        resume=resume,
    )
