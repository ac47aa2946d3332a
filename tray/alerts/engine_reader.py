"""The rule engine's reading of the logs topic from its own committed position.

On start the engine reads on from where it last committed (kafka_source's `Resume`), so what
was logged while it was stopped is evaluated, on the records' own times, and its alerts take
the live path. A first start (no position yet) reads from the end.

Two things make a restart tell each alert once:
- **Warm-up.** The rule's windows are in memory. Before the committed position the reader goes
  back `window_s` (and a margin) of record time, counted from the last record it read, and
  feeds those records again, so the windows
  hold what they held, and a spike the engine was in the middle of is counted whole. A spike
  those records raise is dropped when the history holds it (the position is committed only
  after it is); one the history lacks is told: a spike whose records are spread over
  partitions can cross for the first time while another partition's records warm up.
- **Alerts told before.** Records read twice (killed after the history had their alert,
  before the commit) may cross the threshold at another record than the first time (a spike's
  records spread over partitions arrive in another order), so the alert's id can differ. The
  alerts the history holds from earlier runs are remembered per file: one of the same file
  within `throttle_s` of its crossing time is the same spike, dropped (the rule's throttle,
  carried over the restart). An identical one is also dropped by the router, by id.

Bounded: the warm-up reads at most WARM_UP_MAX records per partition, and the records older
than the rule counts (event_time.MAX_AGE_S) are skipped, not read.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.event_time import MAX_AGE_S
from logtray.tray.alerts.kafka_source import Committed, Records

log = logging.getLogger(__name__)

WARM_UP_MAX = 50_000
# Files whose last told alert is remembered from the history (the oldest forgotten first).
MAX_TOLD_FILES = 10_000
# Record time and the rule's event time differ by the producer's batching and clocks.
WARM_UP_MARGIN_S = 5.0


async def _record_time(consumer: Any, tp: Any, offset: int) -> float | None:
    """The timestamp (epoch seconds) of the record at `offset` of `tp`, or None (gone, or
    not read within a second). Moves the partition's position: the caller seeks it after."""
    if offset < 0:
        return None
    consumer.seek(tp, offset)
    batches = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
    for record in batches.get(tp, []):
        if record.offset == offset and record.timestamp and record.timestamp > 0:
            return float(record.timestamp) / 1000
    return None


class EngineReader:
    """Sits between the consumer and a RuleEngine: places each partition for the warm-up and
    drops what the warm-up's records raise."""

    def __init__(
        self, window_s: float, throttle_s: float = 0.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.window_s = window_s
        self.throttle_s = throttle_s
        self._clock = clock
        # file -> the crossing time of its latest alert told by an earlier run (the history)
        self._told_before: OrderedDict[str, float] = OrderedDict()
        self.repeats = 0  # alerts of a spike an earlier run told, dropped
        self._warm_until: dict[int, int] = {}  # partition -> the committed offset
        self._warming = False
        self.warmed = 0  # records fed again to rebuild the windows
        self.dropped = 0  # alerts the warm-up raised (told before)
        self.skipped = 0  # records past the rule's age, not read

    def accepting(self, accept: Callable[[Alert], None]) -> Callable[[Alert], None]:
        """`accept`, except for what the warm-up raises (the engine's own accept)."""

        def gated(alert: Alert) -> None:
            spike = alert.kind is None and alert.pathname and alert.time is not None
            if self._warming and not spike:
                self.dropped += 1
                return
            if spike:
                assert alert.pathname is not None and alert.time is not None
                before = self._told_before.get(alert.pathname)
                # A spike the warm-up raises was told before, unless its records are spread
                # over partitions and this one's newer records were counted first: then it
                # crosses here for the first time. The history says which.
                same = self.window_s + WARM_UP_MARGIN_S if self._warming else 0.0
                if before is not None and abs(alert.time - before) < max(self.throttle_s, same):
                    if self._warming:
                        self.dropped += 1
                    else:
                        self.repeats += 1
                    return
            accept(alert)

        return gated

    def told_before(self, pathname: str, at: float) -> None:
        """An alert of `pathname` crossing at `at` that an earlier run told (the history)."""
        told = self._told_before
        if at >= told.get(pathname, at):
            told[pathname] = at
            told.move_to_end(pathname)
            if len(told) > MAX_TOLD_FILES:
                told.popitem(last=False)

    async def on_start(self, consumer: Any, committed: dict[Any, Committed]) -> None:
        """Place each committed partition: back over the last window for the warm-up, but
        never at records older than the rule counts."""
        self._warm_until = {}
        if not committed:
            return
        now = self._clock()
        too_old_ms = int((now - MAX_AGE_S) * 1000)
        try:
            fresh = await consumer.offsets_for_times({tp: too_old_ms for tp in committed})
            wanted = {}
            for tp, c in committed.items():
                # Back from the last record read before the position (its own time), not
                # from now: the engine may have been stopped for hours.
                last = await _record_time(consumer, tp, c.offset - 1)
                at = last if last is not None else (c.at if c.at is not None else now)
                wanted[tp] = max(0, int((at - self.window_s - WARM_UP_MARGIN_S) * 1000))
            back = await consumer.offsets_for_times(wanted)
            ends = await consumer.end_offsets(list(committed))
        except Exception as exc:  # a broker that cannot look up times: no warm-up
            log.debug("engine warm-up skipped: %s", exc)
            for tp, c in committed.items():
                consumer.seek(tp, c.offset)
            return
        for tp, c in committed.items():
            # The first record the rule could still count (none: everything is too old).
            first = fresh[tp].offset if fresh.get(tp) is not None else ends[tp]
            if first > c.offset:
                self.skipped += first - c.offset
                consumer.seek(tp, first)
                continue
            start = back[tp].offset if back.get(tp) is not None else c.offset
            start = min(c.offset, max(start, first, c.offset - WARM_UP_MAX))
            if start < c.offset:
                self._warm_until[tp.partition] = c.offset
            consumer.seek(tp, start)  # also undoes _record_time's read
        if self.skipped:
            log.info(
                "engine: %d log records older than %g s skipped (the rule would not count them)",
                self.skipped,
                MAX_AGE_S,
            )

    def feeding(self, feed: Callable[[Records], None]) -> Callable[[Records], None]:
        """The consumer's on_records: records before the committed offset warm up."""

        def on_records(records: Records) -> None:
            if not self._warm_until or not records:
                feed(records)
                return
            until = self._warm_until.get(records[0].partition)
            if until is None:
                feed(records)
                return
            warm = [r for r in records if r.offset < until]
            rest = [r for r in records if r.offset >= until]
            if warm:
                self._warming = True
                try:
                    feed(warm)
                finally:
                    self._warming = False
                self.warmed += len(warm)
            if rest or (warm and warm[-1].offset + 1 >= until):
                self._warm_until.pop(records[0].partition, None)
            if rest:
                feed(rest)

        return on_records
