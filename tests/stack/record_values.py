"""Seeded log records for the parity test: every shape's keys (flat, dotted and nested) with
values of every JSON type, some shipped as a line in `log`. Both profiles must read each alike.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from logtray.pipeline.lines import Joiner, record_from_entry

_STRINGS = [
    "",
    " ",
    "error",
    "ERROR",
    "Err",
    "fatal",
    "warn",
    "WARNING",
    "info",
    "panic",
    "loud",
    "50",
    "payment 4711 failed",
    'user "bob" not found',
    "order ord_8f3k2 at 0x7ffe rejected",
    "request 3f2c9a1e-0b7d-4c1e-9a57-2d3c4b5a6f70 took 12.5ms",
    "can't find 'db-1' now",
    "2026-12-07T09:07:47.123Z",
    "2026-12-07T09:07:47+01:00",
    "2026-12-07T09:07",
    "yesterday",
    "2026-12-07 09:07:47,762",
    "/srv/app/pay.py",
    "go-zap/payments.go:27",
    "processPayment (/srv/app/payments.js:25:10)",
    "x.js:12:9",
    "a:b",
    ":12",
    "21",
    "123456789",
    'Traceback (most recent call last):\n  File "a.py"\nValueError: bad\n\n',
    "TypeError: x is undefined\n    at f (a.js:1:2)",
    "main.f\n\t/a.go:3",
    '{"level":"error","pathname":"/in/a.py","message":"inner 12"}',
    ' {"msg":"no level"} ',
    '{"level":50,"msg":"payment 12 failed","name":"pino"}',
    "{not json}",
    "\u00e9t\u00e9 42 \U0001f600",
    "payments",
    "Payments",
    "x" * 600,
]
_NUMBERS = [
    0,
    1,
    12,
    29,
    30,
    40,
    50,
    55.5,
    60,
    101,
    -1,
    40000,
    20000,
    100001,
    1.5,
    12.0,
    1796639265,
    1796639265.5,
    1796639274737,
    10**20,
    -(10**19),
    1e300,
]
_KEYS = [
    "level",
    "log.level",
    "levelname",
    "severity",
    "lvl",
    "@l",
    "level_value",
    "message",
    "msg",
    "event",
    "@m",
    "@mt",
    "pathname",
    "lineno",
    "caller",
    "filename",
    "line_number",
    "file",
    "caller_file_name",
    "caller_line_number",
    "service",
    "logger",
    "logger_name",
    "loggerName",
    "SourceContext",
    "name",
    "target",
    "@timestamp",
    "created",
    "time",
    "timestamp",
    "ts",
    "@t",
    "err",
    "error",
    "exception",
    "exc_info",
    "stack_trace",
    "stack",
    "stacktrace",
    "@x",
    "log",
]
_NESTED = {
    "log": ["level", "logger", "origin"],
    "origin": ["file", "function"],
    "file": ["name", "line"],
    "source": ["file", "line", "function"],
    "src": ["file", "line", "func"],
    "service": ["name"],
    "fields": ["message", "error"],
    "instant": ["epochSecond", "nanoOfSecond"],
    "thrown": ["name", "message", "extendedStackTrace"],
    "err": ["type", "message", "stack", "name"],
    "error": ["type", "message", "stack_trace", "stack", "name"],
    "exception": ["type", "message", "class", "stack_trace"],
}


def _scalar(rnd: random.Random) -> Any:
    kind = rnd.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.random() < 0.5
    if kind in (2, 3):
        return rnd.choice(_STRINGS)
    return rnd.choice(_NUMBERS)


def _value(rnd: random.Random, key: str, depth: int) -> Any:
    roll = rnd.random()
    if depth > 0 and key in _NESTED and roll < 0.4:
        return {
            k: _value(rnd, k, depth - 1)
            for k in rnd.sample(_NESTED[key], rnd.randint(1, len(_NESTED[key])))
        }
    if depth > 0 and roll < 0.5:
        frames = [
            {
                "class": "C",
                "method": "m",
                "file": rnd.choice(["F.java", 5]),
                "line": rnd.choice([3, "4", True]),
                "func": "f",
                "source": "s.go",
            }
            for _ in range(rnd.randint(0, 3))
        ]
        return [*frames, rnd.choice(["x", 1])] if rnd.random() < 0.3 else frames
    return _scalar(rnd)


def parity_values(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        keys = rnd.sample(_KEYS + list(_NESTED), rnd.randint(0, 9))
        record = {k: _value(rnd, k, 3) for k in keys}
        if rnd.random() < 0.1:
            record = {"log": json.dumps(record) if rnd.random() < 0.8 else record}
        out.append(json.dumps(record))
    return out


def shipped_values(n: int, seed: int) -> list[str]:
    """What the shipper sends for containers' plain-text output (logtray.pipeline.lines): every
    entry of the real programs' output in tests/shapes/lines/, then `n` entries of seeded
    lines mixing the joining rules' pieces (traceback, stack trace, panic, level words)."""
    folder = Path(__file__).resolve().parent.parent / "shapes" / "lines"
    programs = [p.read_text(encoding="utf-8").split("\n") for p in sorted(folder.glob("*.log"))]
    rnd = random.Random(seed)
    pieces = [line for lines in programs for line in lines] + _STRINGS
    mixes = [[rnd.choice(pieces) for _ in range(rnd.randint(1, 12))] for _ in range(n)]
    out = []
    for lines in programs + mixes:
        joiner = Joiner()
        entries = [e for line in lines for e in joiner.feed(line, 1765112400.0)] + joiner.flush()
        out += [json.dumps(record_from_entry(e, "payments", "payments-1")) for e in entries]
    return out
