"""Error kinds in the lite profile: each error record's kind through the `KindBook`, and what it
tells as an Alert ("New error in payments: …", "Regressed in …", a burst, what was learned).

The fingerprint and the decisions are pipeline/kinds.py's (the rules both profiles share:
tests/kind_cases.md); this module only reads the record, keeps the clock and words the alert.
`KindWatch` is fed by the engine (tray/alerts/engine.py) on its own path: the spike rule's
alerts are unchanged.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from logtray.pipeline.kinds import (
    Decision,
    KindBook,
    KindsConfig,
    KnownKind,
    State,
    kind_of_record,
)
from logtray.pipeline.record import RANK, error_of, level_of, message_of, record_of, time_of
from logtray.tray.alerts.alert import Alert, field_text
from logtray.tray.alerts.event_time import bounded
from logtray.tray.alerts.evidence import Evidence, clean_text
from logtray.tray.alerts.json_object import json_object
from logtray.tray.base.config import KindsSettings

_ERROR = RANK["error"]
# Kinds changed (a count, a time) are kept at least this often; new ones and states at once.
KEEP_EVERY_S = 10.0
# Error records held while the kept kinds load (as riemann.config holds them): ~10 MB at most.
MAX_HELD = 10_000

log = logging.getLogger(__name__)

Keep = Callable[[list[KnownKind], list[tuple[str, str]]], None]


def kinds_config(settings: KindsSettings) -> KindsConfig:
    return KindsConfig(
        learn_s=settings.learn_s,
        burst_max=settings.burst_max,
        burst_s=settings.burst_s,
        max_kinds=settings.max_kinds,
    )


def service_label(service: str) -> str:
    return service or "an unnamed service"


class KindWatch:
    """Records -> kinds -> `accept(alert)`; what changed -> `keep(changed, gone)`."""

    def __init__(
        self,
        settings: KindsSettings,
        accept: Callable[[Alert], None],
        keep: Keep | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book = KindBook(kinds_config(settings))
        self._accept = accept
        self._keep = keep
        self._clock = clock
        self._kept_at = clock()
        self.records = 0  # error records looked at
        # While the kinds kept by earlier runs load, error records wait here (the spike rule and
        # the heartbeat go on meanwhile): told before the load, a known kind would be "new".
        self._held: deque[tuple[dict[str, Any], float | None]] | None = None
        self.held_over = 0  # records beyond MAX_HELD while loading: their kinds not looked at

    def hold(self) -> None:
        """Keep error records back until `release` (the kept kinds are loading)."""
        if self._held is None:
            self._held = deque()

    def release(self, now: float) -> None:
        """The kept kinds are loaded: the records held meanwhile are looked at, at `now`."""
        held, self._held = self._held, None
        for event, t in held or ():
            self.observe(event, now, t)
        if self.held_over:
            log.warning(
                "error kinds: %d error records came while the kept kinds loaded, beyond the %d "
                "held: their kinds were not looked at",
                self.held_over,
                MAX_HELD,
            )

    def observe(self, event: dict[str, Any], now: float, t: float | None = None) -> None:
        """One error record (as `record_of` gives it) arrived at `now`; `t` is its own time
        as the rule bounded it (tray/alerts/event_time.py), when the engine has it."""
        if self._held is not None:
            if len(self._held) < MAX_HELD:
                self._held.append((event, t))
            else:
                self.held_over += 1
            return
        self._look(event, now, t)

    def _look(self, event: dict[str, Any], now: float, t: float | None) -> None:
        kind = kind_of_record(event)
        if kind is None:
            return
        self.records += 1
        if t is None:
            t = bounded(time_of(event), now)
        decision = self.book.observe(kind, now, t, message_of(event) or "")
        if decision is not None:
            error = error_of(event)
            # The error as its first line reads, whichever way the stack is ordered.
            said = ": ".join(part for part in (error.type, error.message) if part)
            self._accept(alert_of(decision, t if t is not None else now, said or None))

    def learn(self, values: list[bytes | None], now: float) -> None:
        """Records logged before this start (a first start reads the last hour): their kinds
        are known from now on, their services learning (told once, as any new service)."""
        for raw in values:
            event = json_object(raw)
            record = record_of(event) if event is not None else None
            level = level_of(record) if record is not None else None
            if record is not None and level is not None and RANK[level] >= _ERROR:
                self._look(record, now, None)

    def tick(self, now: float) -> None:
        """After each batch: the learning windows that ended, and what to keep."""
        for decision in self.book.due(now):
            self._accept(alert_of(decision, now))
        if self._keep is not None and (self.book.urgent or now - self._kept_at >= KEEP_EVERY_S):
            self._kept_at = now
            changed, gone = self.book.drain()
            if changed or gone:
                self._keep(changed, gone)

    def set_state(self, service: str, kind_id: str, state: State) -> KnownKind | None:
        """The user resolved, muted or reopened a kind (kept at the next tick)."""
        known = self.book.set_state(service, kind_id, state)
        if known is not None:
            self.tick(self._clock())
        return known

    def load(self, kept: list[KnownKind]) -> None:
        self.book.load(kept)


def alert_of(decision: Decision, at: float, error: str | None = None) -> Alert:
    """The alert a decision tells (its text bounded as a received alert's)."""
    service = decision.service
    who = service_label(service)
    known = decision.kind
    if decision.told == "learned":
        noun = "kind" if decision.count == 1 else "kinds"
        return Alert(
            title=f"Learned {decision.count} error {noun} from {who}",
            message="From now on a new kind of error there is told at once.",
            service=field_text(service) if service else None,
            time=at,
            kind="learned",
        )
    assert known is not None
    kind = known.kind
    if decision.told == "burst":
        shapes = "; ".join(f"“{clean_text(s, 80)}”" for s in decision.examples)
        noun = "kind" if decision.count == 1 else "kinds"
        return Alert(
            title=f"{decision.count} more new error {noun} in {who}",
            message=(
                "Likely cause: messages with values logtray does not mask (names, ids), "
                f"each its own kind — e.g. {shapes}"
            ),
            service=field_text(service) if service else None,
            time=at,
            count=decision.count,
            kind="burst",
        )
    verb = "New error" if decision.told == "new" else "Regressed"
    evidence = Evidence(
        messages=((clean_text(known.example or kind.template), known.count),),
        lines=(kind.line,) if kind.line is not None else (),
        first=known.first_seen,
        last=known.last_seen,
        traceback=clean_text(error) if error else None,
    )
    return Alert(
        title=f"{verb} in {who}: {clean_text(kind.label(), 200)}",
        message=field_text(kind.template) or kind.label(),
        pathname=field_text(kind.path) if kind.path else None,
        lineno=kind.line if kind.line else None,
        count=known.count,
        level="error",
        service=field_text(service) if service else None,
        time=at,
        evidence=evidence,
        id=f"kind-{decision.told}-{kind.id}-{int(at * 1000)}",
        kind=decision.told,
        kind_id=kind.id,
    )
