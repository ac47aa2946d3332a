"""The embedded rule engine of the lite profile: riemann.config's error-spike rule, in-process.

More than `threshold` events whose `level` is `level`, for one value of `group_by` (pathname),
within `window_s` seconds -> one alert at the crossing; then that group stays quiet for
`throttle_s`. Windows run on the engine's clock at arrival (injected), not on the producers'
clocks, so a laptop with a skewed clock in a container cannot hide or invent a spike.

`SpikeRule` and `parse_event` are pure; `run_engine` is the Kafka loop that feeds the router.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from logtray.tray.alerts.alert import Alert, field_text
from logtray.tray.alerts.dedupe import alert_id
from logtray.tray.alerts.evidence import (
    MAX_RAW,
    ErrorRecord,
    RecentErrors,
    Ring,
    compact,
    records,
    summarize,
)
from logtray.tray.alerts.kafka_source import Records, consume_forever
from logtray.tray.base.config import EngineConfig

log = logging.getLogger(__name__)


def parse_event(raw: bytes | None, group_by: str) -> dict[str, Any] | None:
    """A log event, or None for what the rule cannot use (counted as malformed by the caller).

    Malformed: not JSON, not an object, no string `level` or group field, or a string `time`
    (the producer bug that stops Riemann's consumer: counted here so it shows up).
    """
    if not raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if not isinstance(obj.get("level"), str) or not isinstance(obj.get(group_by), str):
        return None
    if isinstance(obj.get("time"), str):
        return None
    return obj


@dataclass
class _Group:
    times: deque[float]
    last_alert: float | None = None
    # The last error records of this file (evidence on): appended to on the hot path.
    ring: Ring | None = None


class SpikeRule:
    """The sliding-window count per group (pure: the caller passes `now`)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._level = config.level.lower()
        self._groups: dict[str, _Group] = {}
        # The last error records per file: the alert's evidence and the error view's list.
        # At least threshold + 1 per file, so the counts at a crossing cover the whole window.
        # A live group holds its ring; `recent` keeps those of groups the rule has forgotten.
        self.recent: RecentErrors | None = (
            RecentErrors(max(config.evidence_records, config.threshold + 1), config.evidence_files)
            if config.evidence_records
            else None
        )
        self._live_rings = 0
        self.events = 0
        self.matched = 0
        self.alerts = 0

    def observe(self, event: dict[str, Any], now: float, raw: bytes | None = None) -> Alert | None:
        """Count one event; an Alert when its group crosses the threshold (and is not throttled).

        `raw` is the event as received: kept as it is in the file's ring when small enough.
        """
        self.events += 1
        if str(event["level"]).lower() != self._level:
            return None
        self.matched += 1
        key = str(event[self.config.group_by])
        group = self._groups.get(key)
        if group is None:
            ring = None
            # At most evidence_files live rings too: a flood of distinct paths cannot make us
            # keep a ring for each (those alerts come without evidence).
            if self.recent is not None and self._live_rings < self.config.evidence_files:
                ring = self.recent.open(key)
                self._live_rings += 1
            group = self._groups[key] = _Group(deque(), ring=ring)
        ring = group.ring
        if ring is not None:
            ring.times.append(now)
            ring.raws.append(raw if raw is not None and len(raw) <= MAX_RAW else compact(event))
        times = group.times
        horizon = now - self.config.window_s
        while times and times[0] <= horizon:
            times.popleft()
        times.append(now)
        if len(times) <= self.config.threshold:
            return None
        if group.last_alert is not None and now - group.last_alert < self.config.throttle_s:
            return None
        group.last_alert = now
        self.alerts += 1
        lineno = event.get("lineno")
        evidence = (
            summarize(r for r in records(ring) if r.time > horizon) if ring is not None else None
        )
        message = evidence.top_message if evidence else None
        # Fields come from any producer on the topic: bounded as the listener bounds them.
        # No title: the popup composes "payments.py:42 — 31 errors in 10 s" from the fields.
        return Alert(
            # The most frequent message of the window (the popup shows it), else this one's.
            message=message or field_text(event.get("message", "")),
            pathname=field_text(key),
            lineno=lineno if isinstance(lineno, int) else None,
            count=len(times),
            window_s=self.config.window_s,
            threshold=self.config.threshold,
            level=self._level,
            service=field_text(event.get("service"))
            if isinstance(event.get("service"), str)
            else None,
            time=now,
            evidence=evidence or None,
            id=alert_id(key, now),
        )

    def sweep(self, now: float) -> None:
        """Forget groups with nothing in the window and no throttle running (bounded memory)."""
        horizon = now - self.config.window_s
        for key in list(self._groups):
            group = self._groups[key]
            while group.times and group.times[0] <= horizon:
                group.times.popleft()
            quiet = group.last_alert is None or now - group.last_alert >= self.config.throttle_s
            if not group.times and quiet:
                del self._groups[key]
                if group.ring is not None and self.recent is not None:
                    self._live_rings -= 1
                    self.recent.retire(key, group.ring)

    def records(self, key: str) -> list[ErrorRecord]:
        """The kept error records of file `key`, oldest first (for the error view)."""
        group = self._groups.get(key)
        ring = group.ring if group else None if self.recent is None else self.recent.get(key)
        return records(ring) if ring else []

    @property
    def groups(self) -> int:
        return len(self._groups)


class RuleEngine:
    """Records -> rule -> `accept(alert)`; counts malformed messages and never stops on one."""

    def __init__(
        self,
        config: EngineConfig,
        accept: Callable[[Alert], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.rule = SpikeRule(config)
        self._accept = accept
        self._clock = clock
        self.malformed = 0
        self._last_sweep = 0.0

    def feed(self, values: list[bytes | None]) -> None:
        now = self._clock()
        group_by = self.config.group_by
        for raw in values:
            event = parse_event(raw, group_by)
            if event is None:
                self.malformed += 1
                if self.malformed in (1, 100, 10_000) or self.malformed % 1_000_000 == 0:
                    log.warning("skipped %d malformed log message(s) so far", self.malformed)
                continue
            alert = self.rule.observe(event, now, raw)
            if alert is not None:
                self._accept(alert)
        if now - self._last_sweep >= self.config.window_s:
            self._last_sweep = now
            self.rule.sweep(now)

    def on_records(self, records: Records) -> None:
        self.feed([record.value for record in records])


async def run_engine(
    config: EngineConfig,
    accept: Callable[[Alert], None],
    stop: asyncio.Event,
    clock: Callable[[], float] = time.time,
    on_status: Callable[[str], None] | None = None,
) -> RuleEngine:
    """Run the rule on `config.topic` until `stop` is set; returns the engine (for its counts)."""
    engine = RuleEngine(config, accept, clock)
    await consume_forever(
        config.topic, config.bootstrap, engine.on_records, stop, on_status=on_status
    )
    return engine
