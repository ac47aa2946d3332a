"""The embedded rule engine of the lite profile: riemann.config's error-spike rule, in-process.

More than `threshold` events at `level` or above, for one group, within `window_s` seconds ->
one alert at the crossing; then that group stays quiet for `throttle_s`. Records are read
through `logtray.pipeline.record` (tests/shapes/README.md): the level, group key and time of
any of the major loggers' shapes, a shipped line read as the record it carries. The group is
the record's group key (its call site's file, else "<service or logger> · <message template>")
when `group_by` is "pathname", the default; another `group_by` names a top-level string field.

Windows run on each record's own time, bounded by the engine's clock at arrival (injected)
exactly as riemann.config bounds it (tray/alerts/event_time.py): a flushed backlog is windowed
on when its records happened, not on when they arrived, and a clock far ahead cannot hold a
window in the future. The throttle runs on the arrival clock, as Riemann's does.

`SpikeRule` and `parse_event` are pure; `RuleEngine` is fed by the Kafka loop
(tray/delivery/service.py, with the connection's TLS and SASL settings) and feeds the router.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logtray.pipeline.record import (
    RANK,
    group_key,
    level_of,
    level_rank,
    normalize,
    record_of,
    time_of,
)
from logtray.tray.alerts.alert import Alert, field_text
from logtray.tray.alerts.dedupe import alert_id
from logtray.tray.alerts.event_time import StepWindow, bounded
from logtray.tray.alerts.evidence import (
    MAX_RAW,
    ErrorRecord,
    RecentErrors,
    Ring,
    compact,
    records,
    summarize,
)
from logtray.tray.alerts.heartbeat import MARK, answer_alert, heartbeat_mark
from logtray.tray.alerts.json_object import json_object
from logtray.tray.alerts.kafka_source import Records
from logtray.tray.alerts.kind_alerts import KindWatch
from logtray.tray.base.config import EngineConfig

log = logging.getLogger(__name__)


def parse_event(raw: bytes | None, group_by: str = "pathname") -> dict[str, Any] | None:
    """A log record (a shipped line: the record it carries), or None for what the rule cannot
    use (counted as malformed by the caller): not JSON, not an object, or no level it can read.

    A record at a counted level without a group is malformed too; `SpikeRule` counts those
    (`ungrouped`), as finding the group costs more than a record it does not count is worth.
    """
    read = read_event(raw)
    return None if read is None else read[0]


def read_event(raw: bytes | None) -> tuple[dict[str, Any], str] | None:
    """`parse_event`'s record and its level (the engine's hot path: the level is read once)."""
    obj = json_object(raw)
    if obj is None:
        return None
    level = level_of(obj)
    if level is not None:
        return obj, level
    record = record_of(obj)  # a shipped line: the record it carries
    if record is None or record is obj:
        return None
    level = level_of(record)
    return None if level is None else (record, level)


def key_function(group_by: str) -> Callable[[dict[str, Any]], str | None]:
    """What the rule groups by: the group key (pathname, the default), or a named string field."""
    if group_by == "pathname":
        return group_key

    def named(record: dict[str, Any]) -> str | None:
        value = record.get(group_by)
        return value if isinstance(value, str) else None

    return named


_ERROR = RANK["error"]

# Files the rule watches at once; beyond, the least recently seen half is forgotten (as
# riemann.config's max-paths).
MAX_GROUPS = 1000


def _by_time(record: ErrorRecord) -> float:
    return record.time


@dataclass
class _Group:
    window: StepWindow
    seen: float  # the arrival clock at its last error (forgotten when idle)
    last_alert: float | None = None
    # The last error records of this file (evidence on): appended to on the hot path.
    ring: Ring | None = None


class SpikeRule:
    """The sliding-window count per group (pure: the caller passes `now`)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._level = config.level.lower()
        # Counted: records at this level or above (error: error and fatal); a level name the
        # records never use counts error and above.
        rank = level_rank(config.level)
        self._floor = RANK["error"] if rank is None else rank
        self._key = key_function(config.group_by)
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
        # Records at a counted level with no group (no call site, no message): not counted.
        self.ungrouped = 0
        # The last counted record's own time, as bounded (None: not counted, or too old).
        self.time: float | None = None

    def observe(self, event: dict[str, Any], now: float, raw: bytes | None = None) -> Alert | None:
        """Count one event that arrived at `now`; an Alert when its group crosses the threshold
        (and is not throttled). The event counts at its own time (`rule_time`): not at all when
        it is over an hour old or already out of its group's window.

        `raw` is the event as received: kept as it is in the file's ring when small enough.
        """
        return self.count(event, level_of(event), now, raw)

    def count(
        self, event: dict[str, Any], level: str | None, now: float, raw: bytes | None = None
    ) -> Alert | None:
        """`observe` for an event whose level the caller has read already (`read_event`)."""
        self.events += 1
        self.time = None
        if level is None or RANK[level] < self._floor:
            return None
        key = self._key(event)
        if key is None:
            self.ungrouped += 1
            return None
        self.matched += 1
        t = self.time = bounded(time_of(event), now)
        if t is None:
            return None
        group = self._groups.get(key)
        if group is None:
            group = self._open(key, now)
        group.seen = now
        window = group.window
        if not window.add(t):
            return None
        ring = group.ring
        if ring is not None:
            ring.times.append(t)
            ring.raws.append(raw if raw is not None and len(raw) <= MAX_RAW else compact(event))
        if window.n <= self.config.threshold:
            return None
        if group.last_alert is not None and now - group.last_alert < self.config.throttle_s:
            return None
        group.last_alert = now
        self.alerts += 1
        return self._alert(key, event, t, group)

    def _open(self, key: str, now: float) -> _Group:
        if len(self._groups) >= MAX_GROUPS:
            self.sweep(now, keep=MAX_GROUPS // 2)
        ring = None
        # At most evidence_files live rings too: a flood of distinct paths cannot make us
        # keep a ring for each (those alerts come without evidence).
        if self.recent is not None and self._live_rings < self.config.evidence_files:
            ring = self.recent.open(key)
            self._live_rings += 1
        group = self._groups[key] = _Group(StepWindow(self.config.window_s), now, ring=ring)
        return group

    def _alert(self, key: str, event: dict[str, Any], t: float, group: _Group) -> Alert:
        ring, window = group.ring, group.window
        evidence = (
            summarize(sorted((r for r in records(ring) if window.holds(r.time)), key=_by_time))
            if ring is not None
            else None
        )
        record = normalize(event)
        assert record is not None  # an event is an object
        message = evidence.top_message if evidence else None
        # Fields come from any producer on the topic: bounded as the listener bounds them.
        # No title: the popup composes "payments.py:42 — 31 errors in 10 s" from the fields.
        return Alert(
            # The most frequent message of the window (the popup shows it), else this one's.
            message=message or field_text(record.message or ""),
            # The group key: the call site's file, or "<service> · <template>" without one.
            pathname=field_text(key),
            lineno=record.line,
            count=window.n,
            window_s=self.config.window_s,
            threshold=self.config.threshold,
            level=self._level,
            service=field_text(record.service) if record.service else None,
            time=t,  # when the crossing error happened (riemann.config sends the same)
            evidence=evidence or None,
            id=alert_id(key, t),  # from the alert's own time, as riemann.config does
        )

    def sweep(self, now: float, keep: int | None = None) -> None:
        """Forget groups unseen (arrival clock) for `idle_s` with no throttle running, as
        riemann.config does; with `keep`, then only the `keep` most recently seen (bounded
        memory under a flood of distinct files)."""
        idle_s = self.idle_s
        throttle_s = self.config.throttle_s
        for key in list(self._groups):
            group = self._groups[key]
            quiet = group.last_alert is None or now - group.last_alert >= throttle_s
            if quiet and now - group.seen >= idle_s:
                self._forget(key)
        if keep is not None and len(self._groups) > keep:
            ranked = sorted(self._groups, key=lambda k: self._groups[k].seen, reverse=True)
            for key in ranked[keep:]:
                self._forget(key)

    def _forget(self, key: str) -> None:
        group = self._groups.pop(key)
        if group.ring is not None and self.recent is not None:
            self._live_rings -= 1
            self.recent.retire(key, group.ring)

    @property
    def idle_s(self) -> float:
        """How long a group is kept after its last error arrived: riemann.config's idle-s."""
        return max(self.config.window_s, self.config.throttle_s) + 60.0

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
        kinds: KindWatch | None = None,
    ) -> None:
        self.config = config
        self.rule = SpikeRule(config)
        # Error kinds (tray/alerts/kind_alerts.py): each error record's kind, on its own path.
        self.kinds = kinds
        self._accept = accept
        self._clock = clock
        self.unreadable = 0
        self.heartbeats = 0
        self._last_sweep = 0.0

    @property
    def malformed(self) -> int:
        """Messages the rule could not use: unreadable (not a JSON object, no level) or at a
        counted level without a group."""
        return self.unreadable + self.rule.ungrouped

    def feed(self, values: list[bytes | None]) -> None:
        now = self._clock()
        kinds = self.kinds
        for raw in values:
            read = read_event(raw)
            # A heartbeat has no level (so parses as None); one that also has a level and a
            # file is still a heartbeat, never counted (as riemann.config does).
            if (read is None or MARK in read[0]) and self._answer_heartbeat(raw):
                continue
            if read is None:
                self.unreadable += 1
                if self.unreadable in (1, 100, 10_000) or self.unreadable % 1_000_000 == 0:
                    log.warning(
                        "skipped %d unreadable log message(s) so far (not a JSON object, or no "
                        "level it could read)",
                        self.unreadable,
                    )
                continue
            alert = self.rule.count(read[0], read[1], now, raw)
            if alert is not None:
                self._accept(alert)
            if kinds is not None and RANK[read[1]] >= _ERROR:
                # The rule's bounded time of this record, when it counted it (no second read).
                kinds.observe(read[0], now, self.rule.time)
        if kinds is not None:
            kinds.tick(now)
        if now - self._last_sweep >= self.config.window_s:
            self._last_sweep = now
            self.rule.sweep(now)

    def _answer_heartbeat(self, raw: bytes | None) -> bool:
        """A heartbeat record (it has no level, so it never parses as an event): answered at
        once through the alerts' own accept, never counted."""
        beat_id = heartbeat_mark(raw)
        if beat_id is None:
            return False
        self.heartbeats += 1
        self._accept(answer_alert(beat_id))
        return True

    def on_records(self, records: Records) -> None:
        self.feed([record.value for record in records])
