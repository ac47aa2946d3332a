"""Which logger's convention a record follows, named for people: `shape_of(record) -> str`.

`logtray doctor` tells, per service, what it recognized ("pino (numeric level, msg)", "ECS",
"slog"…), so a user sees at a glance that their records are read the way they meant. The name
changes nothing about how a record is read (that is `record.py`'s, the same for every shape):
it is told, never decided on. Pure and total: any record (a JSON object) in, a name out.

Each convention is recognized by the keys its library writes that others do not (the field
table of tests/shapes/README.md and the fixtures beside it); a record that matches none is
named by the keys its level and message were read from ("JSON (level, message)").
"""

from __future__ import annotations

from typing import Any

from logtray.pipeline.record import LEVEL_KEYS, MESSAGE_KEYS, lookup, record_of

SERILOG = "Serilog compact JSON (@t, @mt, @l)"
ECS = "ECS (log.level, message)"
LOG4J2 = "Log4j 2 JsonLayout (level, message, instant)"
LOGBACK = "logstash-logback-encoder (level, level_value, message)"
TRACING = "tracing JSON (level, fields.message)"
BUNYAN = "bunyan (numeric level, msg)"
PINO = "pino (numeric level, msg)"
PINO_CALLER = "pino with pino-caller (numeric level, msg, caller)"
PYTHON_JSON_LOGGER = "python-json-logger (levelname, message)"
LOGTRAY = "Python logging, logtray's handler (level, message, pathname)"
STRUCTLOG = "structlog (level, event)"
SLOG = "slog (level, msg, source)"
ZAP = "zap (level, msg, ts)"
ZEROLOG = "zerolog (level, message, caller)"
WINSTON = "winston (level, message, timestamp)"


def shape_of(value: Any) -> str:
    """The convention `value` (one decoded JSON object) follows, in words; a shipped line is
    named with the record it carries ("a shipped line (log) of pino …")."""
    record = record_of(value)
    if record is None:
        return "not a JSON object"
    name = _named(record)
    if record is not value:
        carrier = "log" if isinstance(value.get("log"), str) else "message"
        return f"a shipped line ({carrier}) of {name}"
    return name


def _named(record: dict[str, Any]) -> str:
    has = record.__contains__
    level = record.get("level")
    numeric = isinstance(level, (int, float)) and not isinstance(level, bool)
    if has("@mt") or has("@m") or has("@l"):
        return SERILOG
    if has("log.level") or has("ecs.version"):
        return ECS
    if isinstance(record.get("instant"), dict) or has("loggerFqcn") or has("thrown"):
        return LOG4J2
    if has("level_value") or has("caller_class_name") or has("@version"):
        return LOGBACK
    if isinstance(record.get("fields"), dict) and has("target"):
        return TRACING
    if numeric and has("msg"):
        if has("v"):  # bunyan's log format version, which pino does not write
            return BUNYAN
        return PINO_CALLER if isinstance(record.get("caller"), str) else PINO
    if has("levelname"):
        return PYTHON_JSON_LOGGER
    if has("pathname") and has("lineno") and has("message"):
        return LOGTRAY
    if has("event") and has("level"):
        return STRUCTLOG
    if isinstance(record.get("source"), dict) and has("msg"):
        return SLOG
    if has("ts") and has("msg"):
        return ZAP
    if has("caller") and has("message") and has("time"):
        return ZEROLOG
    if has("timestamp") and has("message") and isinstance(level, str):
        return WINSTON
    return _generic(record)


def _generic(record: dict[str, Any]) -> str:
    """An unknown shape named by where its level and message were found."""
    keys = [
        next((k for k in LEVEL_KEYS if lookup(record, k) is not None), None),
        next((k for k in MESSAGE_KEYS if isinstance(lookup(record, k), str)), None),
    ]
    found = ", ".join(k for k in keys if k is not None)
    return f"JSON ({found})" if found else "JSON (no level or message key)"
