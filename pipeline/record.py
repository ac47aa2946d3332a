"""One log record, whichever logger wrote it: `normalize(value) -> NormalizedRecord | None`.

Pure and total: any JSON value in (what `orjson.loads` or `json.loads` gives), a record or None
out, never an exception; every text bounded. The rules — key precedence, the level table, the
template's patterns in order, the call site, the group key, the time, the error — are stated
exactly in tests/shapes/README.md, which riemann.config implements in Clojure; a change here is
a change there (the shape table in tests/shapes/ runs against both).

The spike rule (tray/alerts/engine.py) uses the parts on its hot path: `record_of`, `level_of`,
`group_key` and `time_of`, so a record at a level it does not count costs one lookup.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from logtray.pipeline.timestamps import parse_timestamp

# Bounds, in code points (tests/shapes/README.md).
MAX_MESSAGE = 1000
MAX_FILE = 500
MAX_NAME = 200  # service, logger
MAX_ERROR_TYPE = 200
MAX_ERROR_MESSAGE = 1000
MAX_STACK = 8000
MAX_GROUP = 500
MAX_LEVEL = 20
MAX_SHIPPED = 65536
MAX_FRAMES = 50
MAX_LINE = 10_000_000
MILLIS_FROM = 1e11  # a number this big is milliseconds (as seconds, the year 5138)

LEVELS = ("debug", "info", "warn", "error", "fatal")
RANK = {name: rank for rank, name in enumerate(LEVELS)}

_NAMES = {
    "debug": ("trace", "debug", "verbose", "fine", "finer", "finest", "trc", "dbg", "vrb"),
    "info": ("info", "information", "informational", "notice", "inf"),
    "warn": ("warn", "warning", "wrn"),
    "error": ("error", "err", "eror"),
    "fatal": ("fatal", "critical", "crit", "panic", "dpanic", "alert", "emerg", "emergency", "ftl"),
}
_LEVEL_OF_NAME: dict[str, str] = {n: level for level, names in _NAMES.items() for n in names}
# The usual spellings looked up as they are, before lowercasing (the hot path).
_LEVEL_FAST: dict[str, str] = {
    spelled: level
    for name, level in _LEVEL_OF_NAME.items()
    for spelled in (name, name.upper(), name.capitalize())
}
_LEVEL_KEYS = ("level", "log.level", "levelname", "severity", "lvl", "@l", "level_value")

_MESSAGE_KEYS = ("message", "msg", "event", "fields.message", "@m", "@mt")
_SERVICE_KEYS = ("service.name", "service")
_LOGGER_KEYS = (
    *("logger", "log.logger", "logger_name", "loggerName", "SourceContext", "name", "target"),
)
_SHIPPED_KEYS = ("log", "message")
_ERROR_TYPE_KEYS = (
    *("error.type", "err.type", "exception.type", "thrown.name", "err.name", "error.name"),
    "exception.class",
)
_ERROR_MESSAGE_KEYS = ("error.message", "err.message", "exception.message", "thrown.message")
_STACK_KEYS = (
    *("error.stack_trace", "error.stack", "err.stack", "err.stack_trace", "exception.stack_trace"),
    *("exception", "exc_info", "stack_trace", "stack", "stacktrace", "@x"),
)
GROUP_SEPARATOR = " · "
# Where a level and a message are looked for, in order (pipeline/shapes.py names them).
LEVEL_KEYS = _LEVEL_KEYS
MESSAGE_KEYS = _MESSAGE_KEYS

# What "stripped" takes off both ends, here and in riemann.config: ASCII whitespace only
# (Python's and Java's own notions of Unicode whitespace differ).
_BLANK = " \t\n\r\f\v"
_WORD = "A-Za-z0-9_"
# (pattern, replacement, a text the pattern cannot match without): applied in this order.
# The third part only skips a pattern that could not match (the result is the same).
TEMPLATE_RULES: tuple[tuple[re.Pattern[str], str, re.Pattern[str]], ...] = tuple(
    (re.compile(pattern, re.ASCII), replacement, re.compile(needs))
    for pattern, replacement, needs in (
        (r'"[^"]*"', '"<*>"', '"'),
        (rf"(?<![{_WORD}])'[^']*'(?![{_WORD}])", "'<*>'", "'"),
        (
            r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
            "<uuid>",
            "-",
        ),
        (r"0[xX][0-9A-Fa-f]+", "<hex>", "0"),
        (
            rf"(?<![{_WORD}])(?=[0-9A-Fa-f]*[0-9])(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{{8,}}"
            rf"(?![{_WORD}])",
            "<hex>",
            "[0-9]",
        ),
        (
            rf"(?<![{_WORD}])(?=[A-Za-z_]*[0-9])(?=[0-9_]*[A-Za-z])[{_WORD}]+(?![{_WORD}])",
            "<id>",
            "[0-9]",
        ),
        (r"[0-9]+(?:\.[0-9]+)*", "<n>", "[0-9]"),
    )
)
# Matched against the whole text (fullmatch; Java's matches()): "$" differs between the two.
_LOCATION = re.compile(r"(.*?):([0-9]+)(?::[0-9]+)?", re.ASCII | re.DOTALL)
_HEAD = re.compile(r"([A-Za-z_$][A-Za-z0-9_$.]*): (.*)", re.ASCII | re.DOTALL)


class ErrorInfo(NamedTuple):
    """What a record says about an error: each part bounded, None when it does not say."""

    type: str | None = None
    message: str | None = None
    stack: str | None = None


@dataclass(frozen=True, slots=True)
class NormalizedRecord:
    """A log record read through the field conventions of the major loggers."""

    level: str | None  # debug, info, warn, error, fatal; None: no level it could read
    message: str | None
    file: str | None  # the call site, as written (a path, a basename, a Java file)
    line: int | None
    time: float | None  # epoch seconds, as the record states it (unbounded by any clock)
    service: str | None
    logger: str | None
    group: str | None  # what the spike rule counts by: the file, else "<who> · <template>"
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def template(self) -> str | None:
        return None if self.message is None else template(self.message)

    @property
    def error(self) -> ErrorInfo:
        """The error's type, message and stack (read when asked: the rule never needs it)."""
        return error_of(self.raw)


def normalize(value: Any) -> NormalizedRecord | None:
    """`value` (one decoded JSON value) as a NormalizedRecord; None when it is not an object."""
    record = record_of(value)
    if record is None:
        return None
    file, line = call_site(record)
    message = message_of(record)
    service, logger = service_of(record), logger_of(record)
    return NormalizedRecord(
        level=level_of(record),
        message=message,
        file=file,
        line=line,
        time=time_of(record),
        service=service,
        logger=logger,
        group=_group(file, message, service or logger),
        raw=record,
    )


# --------------------------------------------------------------------------------- lookups


def lookup(record: dict[str, Any], path: str) -> Any:
    """The value at `path` ("a.b.c"): the top-level key spelled so, else nested objects."""
    value = record.get(path)
    if value is not None or "." not in path:
        return value
    value = record
    parts = _PARTS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PARTS) < 256:
            _PARTS[path] = parts
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


_PARTS: dict[str, tuple[str, ...]] = {}  # the paths this module looks up, split once


def _first_string(record: dict[str, Any], keys: tuple[str, ...], limit: int) -> str | None:
    for key in keys:
        value = lookup(record, key)
        if isinstance(value, str):
            return value[:limit]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------- record


def record_of(value: Any) -> dict[str, Any] | None:
    """The record a value holds: the object itself, or — when it has no level and its `log`
    (else `message`) is one JSON object in a string, as Docker, Fluent Bit, Vector and Filebeat
    ship a line — that inner object (once). None when `value` is not an object."""
    if not isinstance(value, dict):
        return None
    if level_of(value) is not None:
        return value
    for key in _SHIPPED_KEYS:
        text = value.get(key)
        if isinstance(text, str):
            inner = _shipped(text)
            if inner is not None:
                return inner
            break
    return value


def _shipped(text: str) -> dict[str, Any] | None:
    if len(text) > MAX_SHIPPED:
        return None
    text = text.strip(_BLANK)
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        inner = orjson.loads(text)
    except orjson.JSONDecodeError:  # not JSON, or nested deeper than orjson reads (1024)
        return None
    return inner if isinstance(inner, dict) else None


# ----------------------------------------------------------------------------------- level


def level_of(record: dict[str, Any]) -> str | None:
    """debug, info, warn, error or fatal; None when no level key says one."""
    value = record.get("level")  # the usual key, looked up first and directly
    if isinstance(value, str):
        level = _LEVEL_FAST.get(value)
        if level is not None:
            return level
    for key in _LEVEL_KEYS:
        level = _level_value(key, lookup(record, key))
        if level is not None:
            return level
    if isinstance(record.get("@mt"), str):
        return "info"  # Serilog's compact JSON leaves @l out at Information
    return None


def _level_value(key: str, value: Any) -> str | None:
    if isinstance(value, str):
        if len(value) > MAX_LEVEL or not value.isascii():
            return None
        return _LEVEL_OF_NAME.get(value.lower())
    if not _is_number(value):
        return None
    if key == "level_value":  # logback's: 40000 ERROR, 30000 WARN, 20000 INFO, 10000 DEBUG
        if not 0 <= value <= 100_000:
            return None
        return _steps(value, (40_000, 30_000, 20_000), "error")
    if not 0 <= value <= 100:  # pino and bunyan: 60 fatal, 50 error, 40 warn, 30 info
        return None
    return "fatal" if value >= 60 else _steps(value, (50, 40, 30), "error")


def _steps(value: float, steps: tuple[float, float, float], top: str) -> str:
    error, warn, info = steps
    if value >= error:
        return top
    if value >= warn:
        return "warn"
    return "info" if value >= info else "debug"


def level_rank(name: str) -> int | None:
    """The rank of a level name in any spelling the records use (error: 3), or None."""
    level = _level_value("level", name)
    return None if level is None else RANK[level]


# --------------------------------------------------------------------- message and template


def message_of(record: dict[str, Any]) -> str | None:
    return _first_string(record, _MESSAGE_KEYS, MAX_MESSAGE)


def template(message: str) -> str:
    """The message with its variable parts masked: "payment 4711 failed" -> "payment <n> failed"."""
    text = message[:MAX_MESSAGE]
    for pattern, replacement, needs in TEMPLATE_RULES:
        if needs.search(text):
            text = pattern.sub(replacement, text)
    return text


# ------------------------------------------------------------------------------- call site


def call_site(record: dict[str, Any]) -> tuple[str | None, int | None]:
    """(file, line) where the record was logged; (None, None) when it does not say."""
    file = record.get("pathname")  # Python logging's, looked up first and directly
    if isinstance(file, str) and file:
        return file[:MAX_FILE], _line(record.get("lineno"))
    for file_key, line_key in (
        ("log.origin.file.name", "log.origin.file.line"),
        ("source.file", "source.line"),
        ("caller_file_name", "caller_line_number"),
        ("src.file", "src.line"),
    ):
        file = lookup(record, file_key)
        if isinstance(file, str) and file:
            return file[:MAX_FILE], _line(lookup(record, line_key))
    caller = record.get("caller")
    if isinstance(caller, str):
        found = _location(caller)
        if found is not None:
            return found
    file = record.get("filename")
    if isinstance(file, str) and file:
        line = record.get("line_number")
        return file[:MAX_FILE], _line(line if line is not None else record.get("lineno"))
    file = record.get("file")
    if isinstance(file, str) and file:
        found = _location(file)
        return found if found is not None else (file[:MAX_FILE], None)
    return None, None


def _location(text: str) -> tuple[str, int | None] | None:
    """A caller: "fn (path:line:col)" or "path:line" as (path, line); None when it names no line."""
    text = text[: MAX_FILE * 4].strip(_BLANK)
    if text.endswith(")") and "(" in text:
        text = text[text.rindex("(") + 1 : -1]
    match = _LOCATION.fullmatch(text)
    if match is None or not match.group(1):
        return None
    return match.group(1)[:MAX_FILE], _line(match.group(2))


def _line(value: Any) -> int | None:
    if isinstance(value, str):
        if 1 <= len(value) <= 8 and value.isascii() and value.isdigit():
            return int(value)
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LINE:
        return value
    return None


# --------------------------------------------------------------------- service and grouping


def service_of(record: dict[str, Any]) -> str | None:
    return _first_string(record, _SERVICE_KEYS, MAX_NAME)


def logger_of(record: dict[str, Any]) -> str | None:
    return _first_string(record, _LOGGER_KEYS, MAX_NAME)


def group_key(record: dict[str, Any]) -> str | None:
    """What the spike rule counts by: the call site's file, else "<service or logger> ·
    <template>"; None when the record has neither a call site nor a message."""
    file = record.get("pathname")
    if isinstance(file, str) and file:  # the usual shape, without building the rest
        return file[:MAX_GROUP]
    file, _ = call_site(record)
    if file is not None:
        return file[:MAX_GROUP]
    message = message_of(record)
    return _group(None, message, service_of(record) or logger_of(record))


def _group(file: str | None, message: str | None, who: str | None) -> str | None:
    if file is not None:
        return file[:MAX_GROUP]
    if message is None:
        return None
    shape = template(message)
    if who:
        return f"{who}{GROUP_SEPARATOR}{shape}"[:MAX_GROUP]
    return shape[:MAX_GROUP] or None


# ------------------------------------------------------------------------------------ time


def _seconds(number: float) -> float:
    return number / 1000.0 if number >= MILLIS_FROM else number


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (an integer too big for one)."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _number_time(value: Any) -> float | None:
    number = _finite(value)
    return None if number is None else _seconds(number)


def _any_time(value: Any) -> float | None:
    return parse_timestamp(value) if isinstance(value, str) else _number_time(value)


def time_of(record: dict[str, Any]) -> float | None:
    """When the record says it happened, in epoch seconds; None when it does not say."""
    stamp = parse_timestamp(record.get("@timestamp"))
    if stamp is not None:
        return stamp
    t = _number_time(record.get("created"))
    if t is not None:
        return t
    value = record.get("time")
    if isinstance(value, str):
        t = parse_timestamp(value)
    else:
        number = _finite(value)
        if number is not None:
            # Riemann's Kafka consumer: (long (round time)), i.e. half up to a whole number.
            t = _seconds(float(math.floor(number + 0.5)))
    if t is not None:
        return t
    for key in ("timestamp", "ts"):
        t = _any_time(record.get(key))
        if t is not None:
            return t
    t = parse_timestamp(record.get("@t"))
    if t is not None:
        return t
    instant = record.get("instant")
    if isinstance(instant, dict):
        second, nanos = _finite(instant.get("epochSecond")), _finite(instant.get("nanoOfSecond"))
        if second is not None:
            total = second + (nanos / 1e9 if nanos is not None else 0.0)
            return total if math.isfinite(total) else None
    return None


# ----------------------------------------------------------------------------------- error


def error_of(record: dict[str, Any]) -> ErrorInfo:
    """The error a record carries: type, message, stack (tests/shapes/README.md, "Error")."""
    kind = _first_string(record, _ERROR_TYPE_KEYS, MAX_ERROR_TYPE)
    message = _first_string(record, _ERROR_MESSAGE_KEYS, MAX_ERROR_MESSAGE)
    if message is None:
        message = _first_string(record, ("error", "err", "fields.error"), MAX_ERROR_MESSAGE)
    stack = _first_string(record, _STACK_KEYS, MAX_STACK)
    if stack is None:
        stack = _frames(lookup(record, "thrown.extendedStackTrace"), "class", "method", "file")
    if stack is None:
        stack = _frames(record.get("stack"), None, "func", "source")
    if stack is not None and kind is None:
        head = _head_line(stack)
        match = _HEAD.fullmatch(head) if head else None
        if match is not None:
            kind = match.group(1)[:MAX_ERROR_TYPE]
            if message is None:
                message = match.group(2)[:MAX_ERROR_MESSAGE]
    return ErrorInfo(kind, message, stack)


def _head_line(stack: str) -> str | None:
    """Where a stack names its error: the last line of a Python traceback, else the first."""
    lines = stack.split("\n")
    if lines[0].startswith("Traceback"):
        for line in reversed(lines):
            if line.strip(_BLANK):
                return line.strip(_BLANK)
        return None
    return lines[0].strip(_BLANK)


def _frames(value: Any, owner: str | None, function: str, file: str) -> str | None:
    """A stack given as an array of frames (Log4j 2, zerolog), one "at ..." line each."""
    if not isinstance(value, list):
        return None
    lines = []
    for frame in value[:MAX_FRAMES]:
        if not isinstance(frame, dict):
            continue
        parts = [frame.get(owner) if owner else None, frame.get(function)]
        name = ".".join(str(p)[:MAX_NAME] for p in parts if isinstance(p, str))
        where, line = frame.get(file), frame.get("line")
        place = str(where)[:MAX_FILE] if isinstance(where, str) else "?"
        if isinstance(line, (str, int)) and not isinstance(line, bool):
            place = f"{place}:{str(line)[:12]}"
        lines.append(f"at {name}({place})")
    return "\n".join(lines)[:MAX_STACK] if lines else None
