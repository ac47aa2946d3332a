"""What to show for each alert: coalescing, storm control, snooze and do-not-disturb.

Pure: no I/O and no clock of its own. Every call takes `now` (seconds, wall clock) and returns
the notices to show; `next_wakeup()` says when `tick(now)` has something to do (a merged
update, the end of a snooze), so the caller can sleep until then instead of polling.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tray.alert import Alert
from tray.config import AlertsConfig

STORM_KEY = "logtray:storm"
SNOOZE_SUMMARY_KEY = "logtray:snoozed"

# Builds the "Open in Kibana" URL for an alert (None: no pathname filter, e.g. summaries)
# and a time; injected so that this module stays free of URL details.
LinkBuilder = Callable[[Alert | None, float], str | None]


@dataclass(frozen=True)
class Notice:
    """One notification to show. `replaces` means: update the one already shown for `key`."""

    key: str
    title: str
    body: str
    url: str | None
    count: int
    replaces: bool = False
    # The alert behind a per-key notice (its evidence feeds the popup's actions); None for
    # summaries.
    alert: Alert | None = field(default=None, compare=False)


@dataclass
class _KeyState:
    first_seen: float
    last_seen: float
    latest: Alert
    count: int = 1
    shown: bool = False
    last_notified: float = 0.0
    pending: bool = False


@dataclass
class _Storm:
    started: float
    last_new_key: float
    keys: Counter[str] = field(default_factory=Counter)
    last_notified: float = 0.0
    pending: bool = False


class AlertPolicy:
    def __init__(self, config: AlertsConfig, link: LinkBuilder) -> None:
        self.config = config
        self._link = link
        self._keys: dict[str, _KeyState] = {}
        self._new_key_times: deque[float] = deque()
        self._storm: _Storm | None = None
        self._snoozed_until: float | None = None
        self._dnd = False
        self._held: Counter[str] = Counter()
        self._held_since: float | None = None
        self._wakeup: float | None = None

    # -- state the UI shows ------------------------------------------------------------------
    @property
    def snoozed_until(self) -> float | None:
        return self._snoozed_until

    @property
    def do_not_disturb(self) -> bool:
        return self._dnd

    @property
    def quiet(self) -> bool:
        return self._dnd or self._snoozed_until is not None

    def next_wakeup(self) -> float | None:
        return self._wakeup

    # -- alerts --------------------------------------------------------------------------------
    def on_alert(self, alert: Alert, now: float) -> list[Notice]:
        key = alert.key
        if self.quiet:
            if self._held_since is None:
                self._held_since = now
            self._held[key] += 1
            return []

        state = self._keys.get(key)
        if state and state.shown and now - state.last_seen <= self.config.cooldown_s:
            state.count += 1
            state.latest = alert
            state.last_seen = now
            return self._update_key(state, now)  # its own notification, even during a storm
        if state and self._storm is not None and now - state.last_seen <= self.config.cooldown_s:
            # Seen during this storm but never shown on its own: it stays folded into it.
            state.count += 1
            state.latest = alert
            state.last_seen = now
        else:
            state = _KeyState(first_seen=now, last_seen=now, latest=alert)
            self._keys[key] = state
            if not self._storming(now):
                state.shown = True
                state.last_notified = now
                return [self._key_notice(state, replaces=False)]

        storm = self._storm
        if storm is None:
            return []
        storm.keys[key] += 1
        if now - storm.last_notified >= self.config.update_interval_s:
            return [self._storm_notice(storm, now)]
        storm.pending = True
        self._wake_at(storm.last_notified + self.config.update_interval_s)
        return []

    def _storming(self, now: float) -> bool:
        """Record a new key; True when new keys come too fast to show one by one."""
        window = self.config.storm_window_s
        times = self._new_key_times
        times.append(now)
        while times and now - times[0] > window:
            times.popleft()
        if self._storm is not None:
            self._storm.last_new_key = now
            return True
        if len(times) > self.config.storm_keys:
            self._storm = _Storm(started=now, last_new_key=now)
            self._wake_at(now + window)
            return True
        return False

    def _update_key(self, state: _KeyState, now: float) -> list[Notice]:
        if now - state.last_notified >= self.config.update_interval_s:
            state.last_notified = now
            state.pending = False
            return [self._key_notice(state, replaces=True)]
        state.pending = True
        self._wake_at(state.last_notified + self.config.update_interval_s)
        return []

    # -- time passing --------------------------------------------------------------------------
    def tick(self, now: float) -> list[Notice]:
        notices: list[Notice] = []
        self._wakeup = None
        if self._snoozed_until is not None:
            if now >= self._snoozed_until:
                self._snoozed_until = None
                notices += self._end_quiet(now)
            else:
                self._wake_at(self._snoozed_until)
        interval = self.config.update_interval_s
        for state in list(self._keys.values()):
            if state.pending:
                due = state.last_notified + interval
                if now >= due:
                    state.pending = False
                    state.last_notified = now
                    notices.append(self._key_notice(state, replaces=True))
                else:
                    self._wake_at(due)
        storm = self._storm
        if storm is not None:
            if storm.pending:
                due = storm.last_notified + interval
                if now >= due:
                    notices.append(self._storm_notice(storm, now))
                else:
                    self._wake_at(due)
            if now - storm.last_new_key >= self.config.storm_window_s:
                self._storm = None  # calm again: the next new key pops on its own
            else:
                self._wake_at(storm.last_new_key + self.config.storm_window_s)
        self._forget_old(now)
        return notices

    def _wake_at(self, when: float) -> None:
        if self._wakeup is None or when < self._wakeup:
            self._wakeup = when

    def _forget_old(self, now: float) -> None:
        """Drop keys past their cooldown, so memory stays bounded whatever senders do."""
        cooldown = self.config.cooldown_s
        stale = [k for k, s in self._keys.items() if not s.pending and now - s.last_seen > cooldown]
        for key in stale:
            del self._keys[key]
        if self._keys:
            self._wake_at(min(s.last_seen for s in self._keys.values()) + cooldown + 0.001)

    # -- snooze and do-not-disturb ------------------------------------------------------------
    def snooze(self, until: float, now: float) -> None:
        self._snoozed_until = until
        self._held_since = self._held_since or now
        self._wake_at(until)

    def set_do_not_disturb(self, on: bool, now: float) -> list[Notice]:
        self._dnd = on
        return [] if on else self._end_quiet(now)

    def resume(self, now: float) -> list[Notice]:
        """End a snooze and do-not-disturb now."""
        self._snoozed_until = None
        self._dnd = False
        return self._end_quiet(now)

    def _end_quiet(self, now: float) -> list[Notice]:
        if self.quiet:
            return []
        held, since = self._held, self._held_since
        self._held, self._held_since = Counter(), None
        total = sum(held.values())
        if not total:
            return []
        top = ", ".join(f"{_short(k)} ×{n}" for k, n in held.most_common(5))
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        minutes = max(1, round((now - (since or now)) / 60))
        return [
            Notice(
                key=SNOOZE_SUMMARY_KEY,
                title=f"While snoozed: {total} alert{'s' if total != 1 else ''} "
                f"from {len(held)} source{'s' if len(held) != 1 else ''}",
                body=f"{top}{more} (in the last {minutes} min; all are in the history)",
                url=self._link(None, now),
                count=total,
            )
        ]

    # -- notice text ---------------------------------------------------------------------------
    def _key_notice(self, state: _KeyState, replaces: bool) -> Notice:
        alert = state.latest
        body = alert.body()
        if state.count > 1:
            since = time.strftime("%H:%M:%S", time.localtime(state.first_seen))
            body = f"{body}\n{state.count} alerts since {since}".lstrip("\n")
        return Notice(
            key=alert.key,
            title=alert.headline(),
            body=body,
            url=alert.url or self._link(alert, alert.time or state.last_seen),
            count=state.count,
            replaces=replaces,
            alert=alert,
        )

    def _storm_notice(self, storm: _Storm, now: float) -> Notice:
        replaces = storm.last_notified > 0
        storm.last_notified = now
        storm.pending = False
        total = sum(storm.keys.values())
        top = ", ".join(_short(k) for k, _ in storm.keys.most_common(5))
        more = f" and {len(storm.keys) - 5} more" if len(storm.keys) > 5 else ""
        return Notice(
            key=STORM_KEY,
            title=f"Alert storm: {len(storm.keys)} more sources failing",
            body=f"{total} alerts: {top}{more}",
            url=self._link(None, now),
            count=total,
            replaces=replaces,
        )


def _short(key: str) -> str:
    tail = key.replace("\\", "/").rsplit("/", 1)[-1]
    return (tail or key)[:60]
