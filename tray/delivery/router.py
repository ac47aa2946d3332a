"""The alert path after the listener: history, policy, then the notifier.

Runs on the asyncio loop. The policy decides what to show (and whether the alert is part of
a flood); every accepted alert is written to the history (so nothing is lost, snoozed or not,
a flood's records kept apart); notices go to the notifier one at a time per key, in order (so
an update never overtakes the notice it replaces), while notices for different keys go out
side by side (one slow D-Bus round trip does not hold up the rest).

Each history record says how it was told: `"told": "live"` (as it came) or `"caught up"` (read
on start from what was missed, told in one summary). The ids already in the history are taken
as seen at start, so an alert read again after a crash (its position not yet committed) is
neither kept nor shown twice.

Kept, then told: an alert is marked told in the history (`AlertHistory.mark_shown`) once the
notifier has shown a notice telling it — its own popup, the update or storm summary it was
folded into, or the catch-up summary counting it — or at once when a snooze or do-not-disturb
holds it (the hold's end tells it). An alert kept but never marked (the process died between
the two) is told on the next start in the catch-up summary (`untold`): at least once, and
never as a second popup of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.dedupe import SeenIds
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.alerts.policy import CAUGHT_UP_KEY, STORM_KEY, AlertPolicy, Notice
from logtray.tray.delivery.notifiers import Notifier

log = logging.getLogger(__name__)

# At most this many alerts wait for a later notice (a source's update, the storm summary) to
# be marked told; past it the longest waiting are marked at once.
MAX_WAITING = 10_000
# Where the alerts kept by an earlier run but never told come from (the summary's sender).
UNTOLD_PEER = "history"


class AlertRouter:
    def __init__(
        self,
        policy: AlertPolicy,
        history: AlertHistory,
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy
        self.history = history
        self.notifier = notifier
        self._clock = clock
        self._on_change = on_change
        # The latest show() per notice key: the next one for that key waits for it.
        self._showing: dict[str, asyncio.Task[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flush_pending = False
        self.accepted = 0
        self.shown = 0
        # The same alert over two paths (TCP and the alerts topic) is taken once.
        self.seen_ids = SeenIds(max(10_000, 2 * history.limit))
        for entry in reversed(history.recent()):
            if isinstance(entry.get("id"), str):
                self.seen_ids.first_time(entry["id"])
        self.duplicates = 0
        # Kept by an earlier run but never told (it died between the two), at most
        # catch_up_max_age old: the next catch-up summary counts them (`tell_untold`).
        self.untold: list[Alert] = []
        since = clock() - policy.config.catch_up_max_age
        for entry in history.unshown(since):
            try:
                self.untold.append(Alert.from_record(entry, history.url_prefixes))
            except Exception:  # checked when loaded; a record this version cannot use is skipped
                continue
        # Notice key -> ids of alerts folded into its next notice (marked told once it shows).
        self._waiting: dict[str, list[str]] = {}
        self._waiting_count = 0
        # For the benchmark: seconds to the notifier call from the socket read (includes waiting
        # behind a flood) and from the moment the message was handled (our own path).
        self.latencies: deque[float] = deque(maxlen=100_000)
        self.handling_latencies: deque[float] = deque(maxlen=100_000)

    async def aclose(self) -> None:
        if self._timer:
            self._timer.cancel()
        while self._showing:
            await asyncio.gather(*self._showing.values(), return_exceptions=True)
        # A quit with a source's update still due: its first popup told the source, as when the
        # policy lets an update go (`_on_timer`); without this, a source that kept failing until
        # the quit would come back in the next start's "while you were away". Alerts waiting for
        # a storm summary were never shown: the next start tells them.
        for key in [key for key in self._waiting if key != STORM_KEY]:
            self._told(self._unwait(key))
        self.history.flush()
        await self.notifier.aclose()

    # -- input ---------------------------------------------------------------------------------
    def accept(self, alert: Alert, peer: str, received_at: float | None = None) -> None:
        """Take one alert (on the loop thread). `received_at` is its perf_counter receipt."""
        if alert.id is not None and not self.seen_ids.first_time(alert.id):
            self.duplicates += 1
            return
        received_at = time.perf_counter() if received_at is None else received_at
        now = self._clock()
        alert = alert.with_sane_time(now)  # a year-1 or year-9999 time must not break links
        entry: dict[str, Any] = {
            "received": round(now, 3),
            "peer": peer,
            "told": "live",
            **alert.to_record(),
        }
        if self.policy.quiet:
            entry["quiet"] = True
        try:
            notices = self.policy.on_alert(alert, now, peer)
            flood = self.policy.flood_of(alert, peer, now)
        except Exception:  # a policy bug must not lose the alert: it is still kept
            log.exception("the alert policy failed on an alert from %s", peer)
            notices, flood = [], None
        if flood:  # kept apart in the history, so a flood cannot evict the others' alerts
            entry["flood"] = flood
        self.history.append(entry)
        self.accepted += 1
        self._schedule_flush()
        handled_at = time.perf_counter()
        told = [alert.id] if alert.id is not None else []
        if told and not notices:
            self._told_later(alert, told)
        for notice in notices:
            self._dispatch(notice, received_at, handled_at, told)
        self._reschedule()
        if self._on_change:
            self._on_change()

    def accept_caught_up(
        self, alerts: list[Alert], peer: str, away_s: float | None, skipped: int
    ) -> None:
        """Take what a start found missed: each new alert into the history (marked caught
        up), then one summary notice for them all, counting also the alerts an earlier run
        kept but never told (`untold`)."""
        now = self._clock()
        fresh, self.untold = self.untold, []
        for alert in alerts:
            if alert.id is not None and not self.seen_ids.first_time(alert.id):
                self.duplicates += 1
                continue
            alert = alert.with_sane_time(now)
            entry = {"received": round(now, 3), "peer": peer, "told": "caught up"}
            self.history.append({**entry, **alert.to_record()})
            self.accepted += 1
            fresh.append(alert)
        if fresh:
            self._schedule_flush()
        try:
            notices = self.policy.on_caught_up(fresh, away_s, skipped, now, peer)
        except Exception:  # a policy bug must not lose the alerts: they are kept
            log.exception("the alert policy failed on what was missed from %s", peer)
            notices = []
        if self.policy.quiet:  # held: the hold's end tells them
            self._told([alert.id for alert in fresh if alert.id is not None])
        received = time.perf_counter()
        for notice in notices:
            self._dispatch(notice, received, received)
        self._reschedule()
        if self._on_change:
            self._on_change()

    def tell_untold(self, away_s: float | None = None) -> None:
        """Tell the alerts an earlier run kept but never told, in a summary of their own (no
        reader caught up this start, or not soon enough to count them in its summary)."""
        if self.untold:
            self.accept_caught_up([], UNTOLD_PEER, away_s, 0)

    # -- snooze and do-not-disturb (called by the menu / commands, on the loop thread) --------
    def snooze(self, seconds: float) -> None:
        now = self._clock()
        self.policy.snooze(now + seconds, now)
        self._reschedule(force=True)

    def resume(self) -> None:
        self._emit(self.policy.resume(self._clock()))

    def set_do_not_disturb(self, on: bool) -> None:
        self._emit(self.policy.set_do_not_disturb(on, self._clock()))

    # -- internals -------------------------------------------------------------------------------
    def _emit(self, notices: list[Notice]) -> None:
        received = time.perf_counter()
        for notice in notices:
            self._dispatch(notice, received, received)
        self._reschedule(force=True)
        if self._on_change:
            self._on_change()

    def _schedule_flush(self) -> None:
        # One flush per loop iteration, however many alerts arrived in it.
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.history.flush()  # a failure is said once by the history, which goes on in memory

    def _reschedule(self, force: bool = False) -> None:
        wake = self.policy.next_wakeup()
        if wake is None:
            return
        if not force and self._timer_at is not None and self._timer_at <= wake:
            return  # already waking up early enough
        if self._timer:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_at = wake
        self._timer = loop.call_later(max(0.0, wake - self._clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._emit(self.policy.tick(self._clock()))
        for key in [key for key in self._waiting if not self.policy.pending(key)]:
            # The policy let its update go (the source went quiet): its first popup told it.
            self._told(self._unwait(key))

    # -- told: what the history marks once it was shown ----------------------------------------
    def _told(self, ids: Sequence[str], at_once: bool = False) -> None:
        """Mark `ids` told; `at_once` (just shown): written now, so that only a kill in this
        instant tells them again (the history writes the alerts' own lines first)."""
        if not ids:
            return
        self.history.mark_shown(ids)
        if at_once:
            self.history.flush()
        else:
            self._schedule_flush()

    def _told_later(self, alert: Alert, ids: list[str]) -> None:
        """`alert` got no notice now: held (told when the hold ends: marked now), or folded
        into a notice due later (marked when that one shows)."""
        key = None
        if not self.policy.quiet:
            if self.policy.pending(alert.key):
                key = alert.key
            elif self.policy.pending(STORM_KEY):
                key = STORM_KEY
        if key is None:
            self._told(ids)
            return
        self._waiting.setdefault(key, []).extend(ids)
        self._waiting_count += len(ids)
        while self._waiting_count > MAX_WAITING:
            self._told(self._unwait(next(iter(self._waiting))))

    def _unwait(self, key: str) -> list[str]:
        ids = self._waiting.pop(key, [])
        self._waiting_count -= len(ids)
        return ids

    def _dispatch(
        self, notice: Notice, received_at: float, handled_at: float, told: Sequence[str] = ()
    ) -> None:
        ids = [*told, *notice.ids, *self._unwait(notice.key)]
        previous = self._showing.get(notice.key)
        task = asyncio.get_running_loop().create_task(
            self._show(notice, previous, received_at, handled_at, ids)
        )
        self._showing[notice.key] = task
        task.add_done_callback(lambda done: self._forget(notice.key, done))

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._showing.get(key) is task:
            del self._showing[key]

    async def _show(
        self,
        notice: Notice,
        previous: asyncio.Task[None] | None,
        received_at: float,
        handled_at: float,
        told: list[str],
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its failure is logged there, not raised here
        try:
            called_at = time.perf_counter()
            self.latencies.append(called_at - received_at)
            self.handling_latencies.append(called_at - handled_at)
            await self.notifier.show(notice)
            self.shown += 1
            self._told(told, at_once=True)
            if notice.key == CAUGHT_UP_KEY:  # which alerts it counted (`logtray alerts` has them)
                ids = json.dumps(list(told))  # a sender's id cannot break the log's line
                log.info("the catch-up summary told %d alert(s): %s", notice.count, ids)
        except Exception:
            # A notifier failure must never stop the alert path; the alert is in the history.
            log.exception("the %s notifier failed to show %r", self.notifier.name, notice.title)
