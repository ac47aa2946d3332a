"""The evidence an alert carries: what failed, as a bounded sample.

Two pure halves:
- `parse_evidence` validates the "evidence" object of a received alert. Senders are strangers:
  every part is optional, bounded, type-checked and cleaned of control characters; anything
  unusable is dropped, never raised.
- Rings of the last error records per source file (the embedded engine's, lite profile):
  `records` decodes one into bounded ErrorRecords (message, level, time, line, traceback),
  `summarize` builds the alert's sample from them, and `RecentErrors` keeps the rings of files
  the rule has stopped watching, bounded in number, for the error view.

The wire format (shared with riemann.config):
    {"messages": [{"message": str, "count": int}, ...],  # <= 5, most frequent first
     "lines": [int, ...],                                 # distinct line numbers, ascending, <= 20
     "first": float, "last": float,                       # epoch seconds
     "traceback": str,                                    # the last error's "Type: message"
     "error_type": str,                                   # that error's type
     "frame": {"file": str, "line": int, "function": str}}  # its first frame of the user's
                                                           # own code (pipeline/frames.py)
The last two are optional (both profiles send them when known; riemann.config reads the frame
with the error kinds' rule: Python's frames and "at" lines only).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from logtray.pipeline.frames import MAX_FILE, MAX_FUNCTION, RUNTIMES, Frame, first_own
from logtray.pipeline.kinds import kind_of
from logtray.pipeline.record import MAX_ERROR_TYPE, normalize
from logtray.tray.alerts.json_object import json_object

MAX_MESSAGES = 5
MAX_TEXT = 300
MAX_LINES = 20
# A sender's lists are looked at up to this many entries (the rest is ignored, not an error).
MAX_SCAN = 100
MAX_LINENO = 10_000_000
MAX_COUNT = 2**53
MAX_EPOCH = 1e11  # the year 5138: beyond it a number is not epoch seconds
# What the engine keeps of one record's traceback: its tail, where the error itself is.
MAX_TRACEBACK_KEPT = 2000
MAX_LEVEL = 20
# A record up to this size is kept as received; a bigger one only with its bounded fields.
MAX_RAW = 4096

# C0/C1 controls, DEL and the bidirectional overrides that can disguise text: each becomes a
# space, so a message stays one readable line in a popup and in a terminal.
_CONTROL: dict[int, str | None] = {c: " " for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
_CONTROL.update({c: " " for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_CONTROL.update({0x200B: None, 0xFEFF: None})


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """One line of at most `limit` characters: controls become spaces, ends stripped."""
    return value[: limit * 2].translate(_CONTROL).strip()[:limit]


def final_line(traceback: str) -> str:
    """The last non-empty line of a traceback ('ValueError: bad amount'), cleaned."""
    for line in reversed(traceback[-MAX_TRACEBACK_KEPT:].splitlines()):
        if line.strip():
            return clean_text(line)
    return ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """A bounded sample of what failed. `messages` are (text, count), most frequent first."""

    messages: tuple[tuple[str, int], ...] = ()
    lines: tuple[int, ...] = ()
    first: float | None = None
    last: float | None = None
    traceback: str | None = None
    error_type: str | None = None
    frame: Frame | None = None

    @property
    def top_message(self) -> str | None:
        return self.messages[0][0] if self.messages else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.messages:
            out["messages"] = [{"message": m, "count": c} for m, c in self.messages]
        if self.lines:
            out["lines"] = list(self.lines)
        if self.first is not None:
            out["first"] = self.first
        if self.last is not None:
            out["last"] = self.last
        if self.traceback:
            out["traceback"] = self.traceback
        if self.error_type:
            out["error_type"] = self.error_type
        if self.frame is not None:
            frame = self.frame
            out["frame"] = {
                "file": frame.file,
                **({"line": frame.line} if frame.line is not None else {}),
                **({"function": frame.function} if frame.function else {}),
                **({"runtime": frame.runtime} if frame.runtime else {}),
            }
        return out

    def __bool__(self) -> bool:
        return bool(
            self.messages
            or self.lines
            or self.first
            or self.last
            or self.traceback
            or self.error_type
            or self.frame
        )


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) and 0 <= result < MAX_EPOCH else None


def _messages(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list):
        return ()
    counts: Counter[str] = Counter()
    for item in value[:MAX_SCAN]:
        if not isinstance(item, Mapping):
            continue
        text = item.get("message")
        count = _int(item.get("count", 1), 1, MAX_COUNT)
        if not isinstance(text, str) or count is None:
            continue
        text = clean_text(text)
        if text:
            counts[text] = min(MAX_COUNT, counts[text] + count)  # truncation may merge two
    return _top(counts)


def _top(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    # Most frequent first; ties in text order, so the result does not depend on input order.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ranked[:MAX_MESSAGES])


def _has_controls(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def parse_frame(value: Any) -> Frame | None:
    """A received frame ({"file", "line", "function"}); None unless its file is a plain,
    bounded text (a path with control characters is refused, not repaired)."""
    if not isinstance(value, Mapping):
        return None
    file, function, runtime = value.get("file"), value.get("function"), value.get("runtime")
    if not isinstance(file, str) or not file.strip() or _has_controls(file):
        return None
    name = clean_text(function, MAX_FUNCTION) if isinstance(function, str) else ""
    return Frame(
        file=file.strip()[:MAX_FILE],
        line=_int(value.get("line"), 0, MAX_LINENO),
        function=name or None,
        runtime=runtime if isinstance(runtime, str) and runtime in RUNTIMES else "",
    )


def parse_evidence(value: Any) -> Evidence | None:
    """A received "evidence" value to Evidence, or None when nothing in it is usable."""
    if not isinstance(value, Mapping):
        return None
    lines_in = value.get("lines")
    lines: set[int] = set()
    if isinstance(lines_in, list):
        for item in lines_in[:MAX_SCAN]:
            line = _int(item, 0, MAX_LINENO)
            if line is not None:
                lines.add(line)
    first, last = _epoch(value.get("first")), _epoch(value.get("last"))
    if first is not None and last is not None and first > last:
        first, last = last, first
    traceback = value.get("traceback")
    evidence = Evidence(
        messages=_messages(value.get("messages")),
        lines=tuple(sorted(lines)[:MAX_LINES]),
        first=first,
        last=last,
        traceback=(final_line(traceback) or None) if isinstance(traceback, str) else None,
        error_type=_error_type(value.get("error_type")),
        frame=parse_frame(value.get("frame")),
    )
    return evidence if evidence else None


def _error_type(value: Any) -> str | None:
    return (clean_text(value, MAX_ERROR_TYPE) or None) if isinstance(value, str) else None


class ErrorRecord(NamedTuple):
    """One kept error record, decoded and bounded."""

    time: float  # when it happened, as the rule counted it (tray/alerts/event_time.py)
    level: str
    message: str
    lineno: int | None
    traceback: str | None  # the record's stack (its head and tail)
    error: str | None = None  # "Type: message" of the record's error, when it says
    error_type: str | None = None
    stack: str | None = None  # the whole stack (bounded), read for `own_frame` only
    frame: Frame | None = None  # its first frame of the user's own code, when already known

    def own_frame(self) -> Frame | None:
        """The stack's first frame of the user's own code: read when asked (an alert asks for
        its last error's only, so the rule's path never parses stacks)."""
        return self.frame if self.frame is not None else first_own(self.stack)

    kind: str | None = None  # its error kind's id (pipeline/kinds.py), when it has one
    kind_label: str | None = None  # "PaymentTimeoutError at payments.js:16 — <template>"


class Ring:
    """The last `size` error records of one file: their rule times and the bytes as received.

    The hot path only appends (a float and a bytes object: neither is tracked by the garbage
    collector, so a full ring costs no GC time, unlike a tuple per record); the fields are
    decoded when an alert or the error view reads them (rarely, and at most one ring).
    """

    __slots__ = ("raws", "times")

    def __init__(self, size: int) -> None:
        self.times: deque[float] = deque(maxlen=size)
        self.raws: deque[bytes] = deque(maxlen=size)

    def append(self, now: float, raw: bytes) -> None:
        self.times.append(now)
        self.raws.append(raw)

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return zip(self.times, self.raws, strict=True)


def record_of(now: float, event: Mapping[str, Any]) -> ErrorRecord:
    """The bounded fields of one log record (a stranger's object), read through
    `logtray.pipeline.record.normalize` (any of the loggers' shapes)."""
    record = normalize(dict(event))
    assert record is not None  # a mapping is an object
    level = record.level
    if level is None:
        raw_level = record.raw.get("level")
        level = raw_level[:MAX_LEVEL] if isinstance(raw_level, str) else ""
    error = record.error
    if error.type and error.message:
        error_line: str | None = f"{error.type}: {error.message}"
    else:
        error_line = error.type or None
    kind = kind_of(record)
    return ErrorRecord(
        time=now,
        level=level,
        message=(record.message or "")[:MAX_TEXT],
        lineno=record.line,
        traceback=kept_stack(error.stack) if error.stack else None,
        error=clean_text(error_line) if error_line else None,
        error_type=_error_type(error.type),
        stack=error.stack,
        kind=kind.id if kind else None,
        kind_label=clean_text(f"{kind.label()} — {kind.template}") if kind else None,
    )


def kept_stack(stack: str) -> str:
    """What is kept of a long stack: its head (where V8, Java, Go and Rust name the innermost
    frames) and its tail (where Python does, and names the error)."""
    if len(stack) <= MAX_TRACEBACK_KEPT:
        return stack
    head = (MAX_TRACEBACK_KEPT - 3) // 2
    tail = MAX_TRACEBACK_KEPT - 3 - head
    return f"{stack[:head]}\n…\n{stack[-tail:]}"


def compact(event: Mapping[str, Any]) -> bytes:
    """A record too big to keep as received (or given without its bytes): its bounded fields,
    in a shape `record_of` reads back the same."""
    normalized = normalize(dict(event))
    record = record_of(0.0, event)
    file = normalized.file if normalized is not None else None
    error: dict[str, Any] = {"stack_trace": record.traceback}
    if record.error:
        kind, _, message = record.error.partition(": ")
        error.update({"type": record.error_type or kind, "message": message or None})
    return orjson.dumps(
        {
            "level": record.level,
            "message": record.message,
            **({"pathname": file[:MAX_TEXT], "lineno": record.lineno} if file else {}),
            "error": error,
        }
    )


def records(ring: Iterable[tuple[float, bytes]]) -> list[ErrorRecord]:
    """Decode a ring, oldest first (what cannot be decoded is skipped)."""
    out = []
    for now, raw in ring:
        event = json_object(raw)
        if event is not None:
            out.append(record_of(now, event))
    return out


class RecentErrors:
    """Rings of files whose spike-rule group has ended, so the error view still finds them.

    A live group holds its own ring (tray/alerts/engine.py); when the rule forgets the group, the
    ring is retired here, and taken back if the file fails again. At most `files` retired rings
    are kept: the least recently retired goes first.
    """

    def __init__(self, per_file: int, files: int) -> None:
        self.per_file = per_file
        self.files = files
        self._retired: OrderedDict[str, Ring] = OrderedDict()

    def open(self, key: str) -> Ring:
        """The ring for a new live group of `key`: its retired one, or a new one."""
        ring = self._retired.pop(key, None)
        return Ring(self.per_file) if ring is None else ring

    def retire(self, key: str, ring: Ring) -> None:
        if not ring:
            return
        self._retired[key] = ring
        self._retired.move_to_end(key)
        while len(self._retired) > self.files:
            self._retired.popitem(last=False)

    def get(self, key: str) -> Ring | None:
        return self._retired.get(key)

    def __len__(self) -> int:
        return len(self._retired)


def summarize(records: Iterable[ErrorRecord]) -> Evidence:
    """Evidence from records in time order (pure)."""
    counts: Counter[str] = Counter()
    lines: set[int] = set()
    first = last = None
    traceback = None
    error = error_type = None
    last_error: ErrorRecord | None = None
    for record in records:
        if first is None:
            first = record.time
        last = record.time
        text = clean_text(record.message)
        if text:
            counts[text] += 1
        if record.lineno is not None:
            lines.add(record.lineno)
        if record.traceback or record.error:
            traceback, error = record.traceback, record.error
            error_type, last_error = record.error_type, record
    return Evidence(
        messages=_top(counts),
        lines=tuple(sorted(lines)[:MAX_LINES]),
        first=first,
        last=last,
        # The last error's "Type: message", else its traceback's last line (Python's says so).
        traceback=error or ((final_line(traceback) or None) if traceback else None),
        error_type=error_type,
        frame=last_error.own_frame() if last_error is not None else None,
    )
