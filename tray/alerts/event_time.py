"""When a log record happened, as the spike rule counts it: the same reading as riemann.config's.

Pure functions and one small window, shared by nothing but the engine; riemann.config holds the
same rule in Clojure, and the rule-case table (tests/rule_cases.json) runs against both.

- A record's own time: its `@timestamp` (ISO 8601 date-time; no offset = UTC) when that parses,
  else its numeric `created` (Python logging's), else its numeric `time`. A number of 10^11 or
  more is milliseconds. A numeric `time` counts in whole seconds (milliseconds: whole
  milliseconds), because Riemann's Kafka consumer rounds it before riemann.config sees it.
- Bounded by the arrival clock: a time more than MAX_AHEAD_S ahead of it (a clock in the future,
  microseconds) is replaced by the arrival time; a time more than MAX_AGE_S behind it is not
  counted. Without any time, the record counts at its arrival.
- `StepWindow`: a count of times in 0.1 s steps that ends at the latest step seen, so records
  read in any order (a flushed backlog, two partitions) are windowed on their own times.
"""

from __future__ import annotations

import heapq
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_AHEAD_S = 5.0
MAX_AGE_S = 3600.0
STEPS_PER_S = 10
MILLIS_FROM = 1e11  # a number this big is milliseconds (as seconds, the year 5138)
MAX_TIMESTAMP_CHARS = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_TOO_FINE = re.compile(r"\.[0-9]{10}")
# The usual shape's date and time of day, read once per second: "2025-11-24T16:00:00" -> epoch s.
_second_cache: list[Any] = [None, 0]


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS  # whole milliseconds, rounded down (as Java's toEpochMilli)


def _parse_utc(text: str) -> float | None:
    """2025-11-24T16:00:00.123Z, the shape logtray's handler and most producers write."""
    n = len(text)
    if n == 24 and text[19] == "." and text[23] == "Z":  # milliseconds: the handler's shape
        digits = text[20:23]
    elif 20 <= n <= 30 and text[-1] == "Z" and (n == 20 or text[19] == "."):
        digits = text[20:-1]
    else:
        return None
    if digits and not (digits.isascii() and digits.isdigit()):
        return None
    prefix = text[:19]
    if _second_cache[0] == prefix:
        second: int = _second_cache[1]
    else:
        if text[10] != "T":
            return None
        try:
            second = _epoch_ms(datetime.fromisoformat(prefix)) // 1000
        except ValueError:
            return None
        _second_cache[0], _second_cache[1] = prefix, second
    millis = int(digits[:3].ljust(3, "0")) if digits else 0
    return (second * 1000 + millis) / 1000.0


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds (whole milliseconds) of an ISO 8601 date-time string, or None."""
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_CHARS:
        return None
    text = value.strip()
    fast = _parse_utc(text)
    if fast is not None:
        return fast
    # A date-time as java.time reads it: a "T", at most 9 fraction digits.
    if len(text) < 16 or text[10] != "T" or _TOO_FINE.search(text):
        return None
    try:
        return _epoch_ms(datetime.fromisoformat(text)) / 1000.0
    except (ValueError, OverflowError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _seconds(number: float) -> float:
    return number / 1000.0 if number >= MILLIS_FROM else number


def own_time(event: dict[str, Any]) -> float | None:
    """The record's own time in epoch seconds, or None when it carries none."""
    stamp = parse_timestamp(event.get("@timestamp"))
    if stamp is not None:
        return stamp
    created = _number(event.get("created"))
    if created is not None:
        return _seconds(created)
    number = _number(event.get("time"))
    if number is None or not math.isfinite(number):
        return None
    # Riemann's consumer: (long (round time)), i.e. half up to a whole number.
    return _seconds(float(math.floor(number + 0.5)))


def rule_time(event: dict[str, Any], now: float) -> float | None:
    """The time the rule counts the record at (bounded by `now`, the arrival clock), or None
    when the record is more than MAX_AGE_S old."""
    t = own_time(event)
    if t is None or not math.isfinite(t) or t > now + MAX_AHEAD_S:
        t = now
    return t if t >= now - MAX_AGE_S else None


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
