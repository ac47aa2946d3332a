"""When a log record happened, as the spike rule counts it: the same reading as riemann.config's.

Pure functions and one small window, shared by nothing but the engine; riemann.config holds the
same rule in Clojure, and the rule-case table (tests/rule_cases.json) runs against both.

- A record's own time: read by `logtray.pipeline.record.time_of` (tests/shapes/README.md: its
  `@timestamp`, numeric `created`, `time`, `timestamp`, `ts`, `@t`, Log4j 2's `instant`). A
  number of 10^11 or more is milliseconds. A numeric `time` counts in whole seconds
  (milliseconds: whole milliseconds), because Riemann's Kafka consumer rounds it before
  riemann.config sees it.
- Bounded by the arrival clock: a time more than MAX_AHEAD_S ahead of it (a clock in the future,
  microseconds) is replaced by the arrival time; a time more than MAX_AGE_S behind it is not
  counted. Without any time, the record counts at its arrival.
- `StepWindow`: a count of times in 0.1 s steps that ends at the latest step seen, so records
  read in any order (a flushed backlog, two partitions) are windowed on their own times.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from logtray.pipeline.record import MILLIS_FROM, time_of
from logtray.pipeline.timestamps import parse_timestamp

__all__ = [
    "MAX_AGE_S",
    "MAX_AHEAD_S",
    "MILLIS_FROM",
    "STEPS_PER_S",
    "StepWindow",
    "own_time",
    "parse_timestamp",
    "rule_time",
    "step_of",
]

MAX_AHEAD_S = 5.0
MAX_AGE_S = 3600.0
STEPS_PER_S = 10


def own_time(event: dict[str, Any]) -> float | None:
    """The record's own time in epoch seconds, or None when it carries none."""
    return time_of(event)


def bounded(t: float | None, now: float) -> float | None:
    """The time the rule counts a record of own time `t` at (bounded by `now`, the arrival
    clock), or None when it is more than MAX_AGE_S old."""
    if t is None or not math.isfinite(t) or t > now + MAX_AHEAD_S:
        t = now
    return t if t >= now - MAX_AGE_S else None


def rule_time(event: dict[str, Any], now: float) -> float | None:
    """The time the rule counts the record at (bounded by `now`, the arrival clock), or None
    when the record is more than MAX_AGE_S old."""
    return bounded(time_of(event), now)


def step_of(t: float) -> int:
    return math.floor(t * STEPS_PER_S)


class StepWindow:
    """Times counted in 0.1 s steps, for `window_s` seconds back from the latest step seen.

    riemann.config's window-add, step for step: a time at or before the window's start is late
    and not counted; a later one moves the window on and drops the steps that fall out.
    """

    __slots__ = ("_heap", "_span", "_steps", "n", "top")

    def __init__(self, window_s: float) -> None:
        self._span = round(window_s * STEPS_PER_S)
        self._steps: dict[int, int] = {}
        self._heap: list[int] = []
        self.n = 0
        self.top: int | None = None

    @property
    def low(self) -> int:
        """Steps at or below this are out of the window."""
        return (self.top if self.top is not None else 0) - self._span

    def add(self, t: float) -> bool:
        """Count one time; False when it is already out of the window (not counted)."""
        k = step_of(t)
        top = k if self.top is None or k > self.top else self.top
        low = top - self._span
        if k <= low:
            return False
        self.top = top
        steps = self._steps
        count = steps.get(k)
        if count is None:
            steps[k] = 1
            heapq.heappush(self._heap, k)
        else:
            steps[k] = count + 1
        self.n += 1
        heap = self._heap
        while heap[0] <= low:
            self.n -= steps.pop(heapq.heappop(heap))
        return True

    def holds(self, t: float) -> bool:
        """Whether time t is within the window as it stands."""
        return step_of(t) > self.low
