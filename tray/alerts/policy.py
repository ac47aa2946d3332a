"""What to show for each alert: coalescing, storm control, snooze and do-not-disturb.

Pure: no I/O and no clock of its own. Every call takes `now` (seconds, wall clock) and returns
the notices to show; `next_wakeup()` says when `tick(now)` has something to do (a merged
update, the end of a snooze), so the caller can sleep until then instead of polling.

Bounded whatever senders do: at most MAX_KEYS sources are tracked and MAX_TALLY_KEYS per storm
or snooze summary (least recently seen dropped first; totals stay exact), at most MAX_CLASSES
flood classes, and the work per alert and per tick does not grow with the number of sources.

A flood cannot bury a real alert. Each alert belongs to a class: its sender (the peer address)
and the shape of its source, the key with every number and every hex string of 8 or more
characters as "#" (/app/f_17.py and /app/f_18.py are both /app/f_#.py). A class that brings
more than storm_keys new sources within storm_window_s is a flood: its new sources fold into
the storm summary, and they do not count towards a storm for anybody else, so an alert of
another class still pops on its own. When new sources of many classes come too fast (a storm
without a pattern), they fold too; then the summary's title names the newest named source
that is not part of a flood, the body ranks those first, and one that joins is shown within
NAMED_UPDATE_S.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from logtray.tray.alerts.alert import Alert, file_label
from logtray.tray.base.config import AlertsConfig

STORM_KEY = "logtray:storm"
SNOOZE_SUMMARY_KEY = "logtray:snoozed"
CAUGHT_UP_KEY = "logtray:caught-up"

MAX_KEYS = 1000
MAX_TALLY_KEYS = 500
MAX_CLASSES = 1000
# What varies between a flood's sources: numbers, and hex strings (hashes, ids) of 8 or more.
_VARYING = re.compile(r"[0-9a-fA-F]{8,}|\d+")
# A storm summary naming a new source with a pathname is updated this soon (not after the
# full update interval): a real alert must not wait behind a storm of others.
NAMED_UPDATE_S = 0.25

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
    # The ids of the alerts a summary counts (what was missed): told once it is shown.
    ids: tuple[str, ...] = field(default=(), compare=False)


@dataclass
class _KeyState:
    first_seen: float
    last_seen: float
    latest: Alert
    count: int = 1
    shown: bool = False
    last_notified: float = 0.0
    pending: bool = False


class _Tally:
    """Alerts per source for a summary: exact totals, the most recently seen sources kept."""

    def __init__(self, cap: int = MAX_TALLY_KEYS) -> None:
        self.cap = cap
        self.total = 0
        self.sources = 0
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._named: set[str] = set()
        # Sources that are not part of a flood: ranked first, named in the title first.
        self._standout: set[str] = set()
        self.newest_named: str | None = None
        self._newest_stands_out = False

    def add(self, key: str, named: bool, standout: bool = True) -> bool:
        """Count one alert; True when `key` is a source not seen before in this tally.
        A flood's source (not `standout`) never takes the title from one that stands out."""
        self.total += 1
        if named and (standout or not self._newest_stands_out):
            self.newest_named = key
            self._newest_stands_out = standout
        if standout:
            self._standout.add(key)
        counts = self._counts
        if key in counts:
            counts[key] += 1
            counts.move_to_end(key)
            return False
        counts[key] = 1
        self.sources += 1
        if named:
            self._named.add(key)
        if len(counts) > self.cap:
            dropped, _ = counts.popitem(last=False)
            self._named.discard(dropped)
            self._standout.discard(dropped)
        return True

    def __bool__(self) -> bool:
        return self.total > 0

    def top(self, count: int) -> list[tuple[str, int]]:
        """Sources outside a flood first, named ones first, then by count, then the most
        recently seen."""
        recent_first = list(reversed(self._counts.items()))
        recent_first.sort(
            key=lambda item: (item[0] in self._standout, item[0] in self._named, item[1]),
            reverse=True,
        )
        return recent_first[:count]

    def describe(self, count: int = 5, times: bool = True) -> str:
        shown = self.top(count)
        text = ", ".join(f"{_short(k)} ×{n}" if times else _short(k) for k, n in shown)
        more = self.sources - len(shown)
        return f"{text} and {more} more" if more > 0 else text


def source_shape(key: str) -> str:
    """The pattern a flood's sources share: the key with every number, and every hex string
    of 8 or more characters, as "#"."""
    return _VARYING.sub("#", key)


@dataclass
class _Class:
    new_keys: deque[float]  # times of its latest new sources (storm_keys + 1 of them)
    flooding_until: float = 0.0


class _Classes:
    """New sources per class (sender, shape): which classes flood. Bounded (MAX_CLASSES, the
    least recently active dropped first)."""

    def __init__(self, storm_keys: int, window_s: float) -> None:
        self.storm_keys = storm_keys
        self.window_s = window_s
        self._classes: OrderedDict[tuple[str, str], _Class] = OrderedDict()

    def new_key(self, cls: tuple[str, str], now: float) -> tuple[bool, bool]:
        """Record a new source of `cls`: (floods now, started to flood with this one)."""
        state = self._classes.get(cls)
        if state is None:
            state = _Class(deque(maxlen=self.storm_keys + 1))
            self._classes[cls] = state
            while len(self._classes) > MAX_CLASSES:
                self._classes.popitem(last=False)
        self._classes.move_to_end(cls)
        was = now < state.flooding_until
        times = state.new_keys
        times.append(now)
        if len(times) > self.storm_keys and now - times[0] <= self.window_s:
            state.flooding_until = now + self.window_s
        floods = now < state.flooding_until
        return floods, floods and not was

    def floods(self, cls: tuple[str, str], now: float) -> bool:
        state = self._classes.get(cls)
        return state is not None and now < state.flooding_until


@dataclass
class _Storm:
    started: float
    last_new_key: float
    tally: _Tally = field(default_factory=_Tally)
    last_notified: float = 0.0
    pending: bool = False
    due: float = 0.0


class AlertPolicy:
    def __init__(self, config: AlertsConfig, link: LinkBuilder) -> None:
        self.config = config
        self._link = link
        # Tracked sources, least recently seen first (so forgetting stops at the first fresh one).
        self._keys: OrderedDict[str, _KeyState] = OrderedDict()
        self._pending: set[str] = set()
        # The latest new keys of classes that do not flood, with their class: storm_keys + 1
        # of them are all a storm check needs.
        self._new_key_times: deque[tuple[float, tuple[str, str]]] = deque(
            maxlen=config.storm_keys + 1
        )
        self._classes = _Classes(config.storm_keys, config.storm_window_s)
        # New sources without a pattern come too fast: they fold into the storm until then.
        self._unpatterned_until = 0.0
        self._storm: _Storm | None = None
        self._snoozed_until: float | None = None
        self._dnd = False
        self._held = _Tally()
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
    def flood_of(self, alert: Alert, sender: str, now: float) -> str | None:
        """The shape of the flood `alert` is part of (its class floods), or None."""
        cls = (sender, source_shape(alert.key))
        return cls[1] if self._classes.floods(cls, now) else None

    def on_alert(self, alert: Alert, now: float, sender: str = "") -> list[Notice]:
        key = alert.key
        named = alert.pathname is not None
        cls = (sender, source_shape(key))
        if self.quiet:
            if self._held_since is None:
                self._held_since = now
            state = self._keys.get(key)
            if state is None or now - state.last_seen > self.config.cooldown_s:
                self._track(key, _KeyState(first_seen=now, last_seen=now, latest=alert))
                self._classes.new_key(cls, now)  # a flood during a snooze is one too
            else:
                self._keys.move_to_end(key)
                state.last_seen = now
            self._held.add(key, named, standout=not self._classes.floods(cls, now))
            return []

        state = self._keys.get(key)
        if state is not None:
            self._keys.move_to_end(key)
        if state and state.shown and now - state.last_seen <= self.config.cooldown_s:
            state.count += 1
            state.latest = alert
            state.last_seen = now
            return self._update_key(key, state, now)  # its own notification, even in a storm
        if state and self._storm is not None and now - state.last_seen <= self.config.cooldown_s:
            # Seen during this storm but never shown on its own: it stays folded into it.
            state.count += 1
            state.latest = alert
            state.last_seen = now
        else:
            state = _KeyState(first_seen=now, last_seen=now, latest=alert)
            self._track(key, state)
            if not self._storming(now, cls):
                state.shown = True
                state.last_notified = now
                return [self._key_notice(state, replaces=False)]

        storm = self._storm
        if storm is None:
            return []
        interval = self.config.update_interval_s
        standout = not self._classes.floods(cls, now)
        if storm.tally.add(key, named, standout) and named and standout:
            interval = min(interval, NAMED_UPDATE_S)
        due = storm.last_notified + interval
        if storm.pending:
            due = min(due, storm.due)
        if now >= due:
            return [self._storm_notice(storm, now)]
        storm.pending = True
        storm.due = due
        self._wake_at(due)
        return []

    def _track(self, key: str, state: _KeyState) -> None:
        self._keys[key] = state
        self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:  # the least recently seen goes first
            dropped, _ = self._keys.popitem(last=False)
            self._pending.discard(dropped)

    def _storming(self, now: float, cls: tuple[str, str]) -> bool:
        """Record a new key of class `cls`; True when it is to fold into the storm summary:
        its class floods, or new keys without a pattern come too fast to show one by one."""
        window = self.config.storm_window_s
        floods, started = self._classes.new_key(cls, now)
        times = self._new_key_times
        if started:  # its earlier sources no longer count against the others
            kept = [item for item in times if item[1] != cls]
            times.clear()
            times.extend(kept)
            if not self._too_fast(times, now):
                self._unpatterned_until = 0.0  # they alone made it look like a storm
        if not floods:
            times.append((now, cls))
            if self._too_fast(times, now):
                self._unpatterned_until = now + window
        fold = floods or now < self._unpatterned_until
        if not fold:
            return False
        if self._storm is None:
            self._storm = _Storm(started=now, last_new_key=now)
            self._wake_at(now + window)
        self._storm.last_new_key = now
        return True

    def _too_fast(self, times: deque[tuple[float, tuple[str, str]]], now: float) -> bool:
        return (
            len(times) > self.config.storm_keys and now - times[0][0] <= self.config.storm_window_s
        )

    def _update_key(self, key: str, state: _KeyState, now: float) -> list[Notice]:
        if now - state.last_notified >= self.config.update_interval_s:
            state.last_notified = now
            state.pending = False
            self._pending.discard(key)
            return [self._key_notice(state, replaces=True)]
        state.pending = True
        self._pending.add(key)
        self._wake_at(state.last_notified + self.config.update_interval_s)
        return []

    def pending(self, key: str) -> bool:
        """Whether a notice for `key` (a source's, or STORM_KEY) is due later: an alert that
        got no notice of its own now is told by that one."""
        if key == STORM_KEY:
            return self._storm is not None and self._storm.pending
        state = self._keys.get(key)
        return state is not None and state.pending

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
        for key in list(self._pending):
            state = self._keys.get(key)
            if state is None or not state.pending:
                self._pending.discard(key)
                continue
            due = state.last_notified + interval
            if now >= due:
                state.pending = False
                self._pending.discard(key)
                state.last_notified = now
                notices.append(self._key_notice(state, replaces=True))
            else:
                self._wake_at(due)
        storm = self._storm
        if storm is not None:
            if storm.pending:
                if now >= storm.due:
                    notices.append(self._storm_notice(storm, now))
                else:
                    self._wake_at(storm.due)
            if now - storm.last_new_key >= self.config.storm_window_s and not storm.pending:
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
        keys = self._keys
        while keys:
            key, state = next(iter(keys.items()))
            if now - state.last_seen <= cooldown:
                self._wake_at(state.last_seen + cooldown + 0.001)
                break
            keys.popitem(last=False)
            if state.pending:  # its last update is due now; the alert itself is in the history
                self._pending.discard(key)

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
        self._held, self._held_since = _Tally(), None
        total = held.total
        if not total:
            return []
        minutes = max(1, round((now - (since or now)) / 60))
        return [
            Notice(
                key=SNOOZE_SUMMARY_KEY,
                title=f"While snoozed: {total} alert{'s' if total != 1 else ''} "
                f"from {held.sources} source{'s' if held.sources != 1 else ''}",
                body=f"{held.describe()} (in the last {minutes} min; all are in the history)",
                url=self._link(None, now),
                count=total,
            )
        ]

    def on_caught_up(
        self,
        alerts: list[Alert],
        away_s: float | None,
        skipped: int,
        now: float,
        sender: str = "",
    ) -> list[Notice]:
        """What a start missed, as ONE notice ("While you were away (2 h 10 min): 3 alerts").
        While snoozed or in do-not-disturb they join what is held, as live alerts do."""
        if self.quiet:
            for alert in alerts:
                self.on_alert(alert, now, sender)
            return []
        if not alerts and not skipped:
            return []
        return [caught_up_notice(alerts, away_s, skipped, self._link(None, now))]

    # -- notice text ---------------------------------------------------------------------------
    def _key_notice(self, state: _KeyState, replaces: bool) -> Notice:
        alert = state.latest
        # The message, then the error's type and the user's own frame where it happened.
        body = "\n".join(line for line in (alert.body(), alert.detail()) if line)
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
        tally = storm.tally
        if tally.newest_named:
            # The title names the source that just failed (a real alert must not hide behind
            # a storm); the body ranks them all: named sources first, by count.
            others = tally.sources - 1
            title = (
                f"Alert storm: {_short(tally.newest_named)} and {others} more "
                f"source{'s' if others != 1 else ''}"
            )
        else:
            title = f"Alert storm: {tally.sources} more sources failing"
        return Notice(
            key=STORM_KEY,
            title=title,
            body=f"{tally.describe()}\n{tally.total} alerts (all are in the history)",
            url=self._link(None, now),
            count=tally.total,
            replaces=replaces,
        )


def _short(key: str) -> str:
    return file_label(key)


def away_text(seconds: float) -> str:
    """'2 h 10 min', '5 min', '3 d 4 h': how long, to the minute."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def caught_up_notice(
    alerts: list[Alert], away_s: float | None, skipped: int, url: str | None
) -> Notice:
    """The one notice of what was missed: how many, the sources most often in them (each with
    its line), and how many records were too old or over the budget to be read."""
    sources: dict[str, int] = {}
    for alert in alerts:
        label = _short(alert.key) if alert.pathname else alert.short_name
        if alert.lineno is not None:
            label = f"{label}:{alert.lineno}"
        sources[label] = sources.get(label, 0) + 1
    ranked = sorted(sources.items(), key=lambda item: -item[1])
    listed = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in ranked[:5])
    if len(ranked) > 5:
        listed += f" and {len(ranked) - 5} more"
    count = len(alerts)
    away = f" ({away_text(away_s)})" if away_s is not None and away_s > 0 else ""
    title = f"While you were away{away}: {count} alert{'s' if count != 1 else ''}"
    if listed:
        title += f" — {ranked[0][0]}" + (" …" if len(ranked) > 1 else "")
    body = listed + " (all are in the history)" if listed else ""
    if skipped:
        body += (
            f"\n{skipped} older record{'s' if skipped != 1 else ''} not read "
            "(past [alerts] catch_up_max_age or catch_up_max_records)"
        )
    ids = tuple(alert.id for alert in alerts if alert.id is not None)
    return Notice(
        key=CAUGHT_UP_KEY, title=title, body=body.lstrip("\n"), url=url, count=count, ids=ids
    )
