"""What a sample of "program-logs" says, per service: records, shapes, errors, what was unreadable.

`logtray doctor` reads the topic's last minutes and tells, for each service, how many records
it read, which logger's convention they follow (pipeline/shapes.py), how many the spike rule
counts as errors, and the records it could not read, with the reason and one example. A
service whose records carry no level the rule knows is never alerted on; this is where the
user learns it, instead of from silence.

Pure and bounded: messages (bytes, from strangers) in, tallies out; at most `MAX_SERVICES`
services (the rest are tallied together), `MAX_SHAPES` shape names each, one example each.
Every reason is stated the way riemann.config and the lite engine decide it: a message either
profile skips is unreadable here for the same reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson

from logtray.pipeline.record import (
    LEVEL_KEYS,
    RANK,
    group_key,
    level_of,
    logger_of,
    lookup,
    record_of,
    service_of,
)
from logtray.pipeline.shapes import shape_of

MAX_VALUE = 1024 * 1024  # riemann.config's max-value-bytes: a larger message is not decoded
MAX_SERVICES = 50
MAX_SHAPES = 8  # distinct shape names kept per service (more are counted as "other")
EXAMPLE_CHARS = 120  # an unreadable message's example, in code points
OTHERS = "(other services)"
NO_NAME = "(no service named)"

Problem = Literal[
    "empty", "too-large", "not-json", "not-object", "no-level", "unknown-level", "no-group"
]


class Reading(NamedTuple):
    """What one message is to the rule."""

    who: str | None  # the service, else the logger; None: the record names neither
    shape: str | None  # the convention it follows (None when it is not a JSON object)
    counted: bool  # an error the spike rule counts
    problem: Problem | None  # why the rule cannot use it (None: it can)
    reason: str | None  # that, in words


def read_message(raw: bytes | None, level: str = "error") -> Reading:
    """`raw` (one Kafka message's value) as the rule sees it; `level`: the lowest it counts."""
    if not raw:
        return Reading(None, None, False, "empty", "an empty message")
    if len(raw) > MAX_VALUE:
        return Reading(None, None, False, "too-large", "over 1 MiB, not decoded")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Reading(None, None, False, "not-json", "not JSON")
    record = record_of(value)
    if record is None:
        kind = _json_kind(value)
        return Reading(None, None, False, "not-object", f"JSON but not an object ({kind})")
    who = service_of(record) or logger_of(record) or None
    shape = shape_of(value)
    found = level_of(record)
    if found is None:
        problem, reason = _no_level(record)
        return Reading(who, shape, False, problem, reason)
    if RANK[found] < RANK.get(level, RANK["error"]):
        return Reading(who, shape, False, None, None)
    if group_key(record) is None:
        reason = f"an {found} record with neither a call site nor a message: not counted"
        return Reading(who, shape, False, "no-group", reason)
    return Reading(who, shape, True, None, None)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _no_level(record: dict[str, Any]) -> tuple[Problem, str]:
    """Why a record has no level: a level key whose value is no level name, or no level key."""
    for key in LEVEL_KEYS:
        value = lookup(record, key)
        if value is not None:
            shown = orjson.dumps(value).decode()[:40] if _scalar(value) else type(value).__name__
            return "unknown-level", f'"{key}": {shown} is no level logtray knows'
    return "no-level", "no level field (" + ", ".join(LEVEL_KEYS) + ")"


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def example(raw: bytes | None) -> str:
    """The start of a message as text: at most EXAMPLE_CHARS code points, "…" when cut. Not yet
    safe to show: the caller cleans it for its screen (tray/base/text.py)."""
    text = (raw or b"")[: EXAMPLE_CHARS * 4].decode("utf-8", "replace")
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


@dataclass
class ServiceTally:
    """One service's records in the sample."""

    who: str  # the service or logger name, NO_NAME or OTHERS
    records: int = 0
    errors: int = 0  # records the rule counts
    shapes: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    # The first unreadable message: its reason and its start (`example`).
    reason: str | None = None
    example: str | None = None

    @property
    def unreadable(self) -> int:
        return sum(self.problems.values())

    @property
    def ok(self) -> bool:
        return self.unreadable == 0

    def add(self, reading: Reading, raw: bytes | None) -> None:
        self.records += 1
        self.errors += reading.counted
        if reading.shape is not None:
            shape = reading.shape
            if shape not in self.shapes and len(self.shapes) >= MAX_SHAPES:
                shape = "other shapes"
            self.shapes[shape] += 1
        if reading.problem is not None:
            self.problems[reading.problem] += 1
            if self.reason is None:
                self.reason, self.example = reading.reason, example(raw)

    def summary(self) -> str:
        """One line: records, shapes, errors counted, unreadable ones with the first reason."""
        if (
            self.problems.keys() <= {"no-level", "unknown-level"}
            and self.unreadable == self.records
        ):
            shapes = ", ".join(self.shapes)
            return (
                f"{_count(self.records, 'record')} ({shapes}), none with a level the rule reads "
                f"({self.reason}), so none of its errors is counted; e.g. {self.example}"
            )
        parts = [_count(self.records, "record")]
        if self.shapes:
            named = [
                name if n == self.records else f"{name} ×{n}"
                for name, n in self.shapes.most_common()
            ]
            parts.append(", ".join(named))
        parts.append(f"{_count(self.errors, 'error')} counted")
        if self.unreadable:
            parts.append(
                f"{self.unreadable} unreadable, e.g. {self.reason}: {self.example}"
                if self.unreadable < self.records
                else f"none readable, e.g. {self.reason}: {self.example}"
            )
        return "; ".join(parts)

    def fix(self) -> str:
        """One sentence: what to change so the rule reads this service's records ("" if ok)."""
        if self.ok:
            return ""
        problem = self.problems.most_common(1)[0][0]
        docs = "see docs/languages.md"
        return {
            "no-level": 'add a level field to every record (e.g. "level": "error", or pino\'s '
            f"numbers): without one, no error of it is counted; {docs}",
            "unknown-level": "write the level as one of debug, info, warn, error, fatal (or a "
            f"spelling in docs/languages.md's table): other values are not counted; {docs}",
            "no-group": "give error records a message or a call site (file and line) so they "
            f"can be grouped; {docs}",
            "not-json": f"send one JSON object per Kafka message (one log record); {docs}",
            "not-object": f"send one JSON object per Kafka message (one log record); {docs}",
            "empty": f"send one JSON object per Kafka message, never an empty one; {docs}",
            "too-large": "keep a record under 1 MiB (cut the stack trace or the payload)",
        }[problem]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@dataclass
class Census:
    """Tallies per service of the messages `add`ed (bounded: MAX_SERVICES, then OTHERS)."""

    level: str = "error"  # the lowest level the rule counts ([engine] level)
    services: dict[str, ServiceTally] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(t.records for t in self.services.values())

    def add(self, raw: bytes | None) -> Reading:
        reading = read_message(raw, self.level)
        who = reading.who if reading.who is not None else NO_NAME
        tally = self.services.get(who)
        if tally is None:
            if len(self.services) >= MAX_SERVICES:
                who = OTHERS
                tally = self.services.get(who)
            if tally is None:
                tally = self.services[who] = ServiceTally(who)
        tally.add(reading, raw)
        return reading

    def tallies(self) -> list[ServiceTally]:
        """The services, those with unreadable records first, then by records (most first)."""
        return sorted(self.services.values(), key=lambda t: (t.ok, -t.records, t.who))
