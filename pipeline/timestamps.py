"""An ISO 8601 date-time as the spike rule reads it, in both profiles (pure).

`parse_timestamp` reads what riemann.config's `parse-timestamp` reads (java.time's Instant,
OffsetDateTime, then LocalDateTime at UTC): tests/pipeline/test_rule.py and
tests/stack/test_riemann_config.py ask both the same cases. The usual shape
(2025-11-24T16:00:00.123Z) takes a fast path with its date and time of day cached per second.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

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
