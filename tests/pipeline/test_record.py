"""The one reading of a log record (logtray.pipeline.record), rule by rule as
tests/shapes/README.md states them, and total: any JSON value in, never an exception.

The loggers without a fixture yet (Go, Rust, .NET) are written here from the shared notes'
field table (their real output's field names and value types)."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.record import (
    MAX_ERROR_MESSAGE,
    MAX_ERROR_TYPE,
    MAX_FILE,
    MAX_GROUP,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_STACK,
    ErrorInfo,
    group_key,
    level_of,
    normalize,
    template,
)

T0 = 1764000000.0  # 2025-11-24T16:00:00Z


def read(value: Any) -> Any:
    record = normalize(value)
    assert record is not None
    return record


# ------------------------------------------------------------------------------ the levels


@pytest.mark.parametrize(
    ("record", "level"),
    [
        ({"level": "error"}, "error"),
        ({"level": "ERROR"}, "error"),
        ({"level": "Err"}, "error"),
        ({"level": "eRrOr"}, "error"),
        ({"level": "critical"}, "fatal"),
        ({"level": "CRIT"}, "fatal"),
        ({"level": "panic"}, "fatal"),
        ({"level": "dpanic"}, "fatal"),
        ({"level": "alert"}, "fatal"),
        ({"level": "emerg"}, "fatal"),
        ({"level": "warning"}, "warn"),
        ({"level": "WARN"}, "warn"),
        ({"level": "Information"}, "info"),
        ({"level": "trace"}, "debug"),
        ({"level": 50}, "error"),  # pino, bunyan
        ({"level": 60}, "fatal"),
        ({"level": 40}, "warn"),
        ({"level": 30}, "info"),
        ({"level": 10}, "debug"),
        ({"level": 55.5}, "error"),
        ({"level": 101}, None),
        ({"level": -1}, None),
        ({"level": True}, None),
        ({"level": None}, None),
        ({"level": ["error"]}, None),
        ({"level": "loud"}, None),
        ({"level": "error" + " " * 20}, None),  # longer than 20: not a level
        ({"level": "ERRÖR"}, None),
        ({"log.level": "error"}, "error"),  # ECS, dotted
        ({"log": {"level": "error"}}, "error"),  # ECS, nested
        ({"levelname": "ERROR"}, "error"),  # python-json-logger
        ({"severity": "ERROR"}, "error"),
        ({"lvl": "eror"}, "error"),
        ({"@l": "Error", "@mt": "x"}, "error"),  # Serilog
        ({"@mt": "started {Port}"}, "info"),  # Serilog leaves @l out at Information
        ({"level_value": 40000}, "error"),  # logback
        ({"level_value": 30000}, "warn"),
        ({"level_value": 20000}, "info"),
        ({"level_value": 5000}, "debug"),
        ({"level_value": 100001}, None),
        # the first key that maps wins; one that does not map is skipped
        ({"level": "loud", "levelname": "ERROR"}, "error"),
        ({"level": "INFO", "level_value": 40000}, "info"),
        ({"level": 40000, "level_value": 40000}, "error"),
    ],
)
def test_levels(record: dict[str, Any], level: str | None) -> None:
    assert level_of(record) == level
    assert read(record).level == level


# ------------------------------------------------------------------------- the template


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("payment 4711 failed", "payment <n> failed"),
        ('user "bob" not found', 'user "<*>" not found'),
        ("can't find 'db-1' now", "can't find '<*>' now"),
        ("order ord_8f3k2 at 0x7ffe rejected", "order <id> at <hex> rejected"),
        (
            "request 3f2c9a1e-0b7d-4c1e-9a57-2d3c4b5a6f70 took 12.5ms",
            "request <uuid> took <n>.<id>",
        ),
        ("commit deadbeef42 and cafebabe", "commit <hex> and cafebabe"),
        ("host 10.0.0.12 port 5432", "host <n> port <n>"),
        ("v2 of user-123", "<id> of user-<n>"),
        ("nothing variable here", "nothing variable here"),
        ("", ""),
    ],
)
def test_templates(message: str, expected: str) -> None:
    assert template(message) == expected


def test_messages_of_one_call_differ_only_in_what_the_template_masks() -> None:
    shapes = {template(f"payment {4700 + i} for user u{i}x failed") for i in range(50)}
    assert shapes == {"payment <n> for user <id> failed"}


# ------------------------------------------------------------ call site and group key


@pytest.mark.parametrize(
    ("record", "file", "line"),
    [
        ({"pathname": "/app/pay.py", "lineno": 42}, "/app/pay.py", 42),
        ({"log": {"origin": {"file": {"name": "pay.py", "line": 7}}}}, "pay.py", 7),
        ({"log.origin.file.name": "pay.py", "log.origin.file.line": 7}, "pay.py", 7),
        (
            {"source": {"function": "main.pay", "file": "/src/pay.go", "line": 29}},
            "/src/pay.go",
            29,
        ),
        ({"caller_file_name": "Pay.java", "caller_line_number": 22}, "Pay.java", 22),
        ({"src": {"file": "/app/pay.js", "line": 3, "func": "pay"}}, "/app/pay.js", 3),
        ({"src": {}, "caller": "pay (/app/pay.js:25:10)"}, "/app/pay.js", 25),
        ({"caller": "Object.<anonymous> (/srv/app/x.js:12:9)"}, "/srv/app/x.js", 12),
        ({"caller": "go-zap/payments.go:27"}, "go-zap/payments.go", 27),
        ({"caller": "/home/me/pay/payments.go:29"}, "/home/me/pay/payments.go", 29),
        ({"caller": "C:/src/pay.go:29"}, "C:/src/pay.go", 29),
        ({"caller": "no location", "filename": "src/main.rs", "line_number": 9}, "src/main.rs", 9),
        ({"filename": "pay.py", "lineno": 5}, "pay.py", 5),
        ({"file": "/src/pay.go:31", "func": "main.pay"}, "/src/pay.go", 31),
        ({"file": "pay.go"}, "pay.go", None),
        ({"pathname": "/a.py", "lineno": "12"}, "/a.py", 12),  # a string of digits
        ({"pathname": "/a.py", "lineno": 12.0}, "/a.py", 12),
        ({"pathname": "/a.py", "lineno": 12.5}, "/a.py", None),
        ({"pathname": "/a.py", "lineno": True}, "/a.py", None),
        ({"pathname": "/a.py", "lineno": 10**9}, "/a.py", None),
        ({"pathname": "", "caller": "x.go:1"}, "x.go", 1),  # an empty file is none
        ({"caller": ":12"}, None, None),
        ({}, None, None),
    ],
)
def test_call_sites(record: dict[str, Any], file: str | None, line: int | None) -> None:
    got = read(record)
    assert (got.file, got.line) == (file, line)


def test_the_group_is_the_file_else_who_and_template() -> None:
    assert group_key({"pathname": "/app/pay.py", "message": "x 1"}) == "/app/pay.py"
    assert group_key({"caller": "pay.go:3", "msg": "x 1"}) == "pay.go"
    assert group_key({"service": "pay", "logger": "l", "msg": "x 1"}) == "pay · x <n>"
    assert group_key({"service": {"name": "pay"}, "msg": "x 1"}) == "pay · x <n>"
    assert group_key({"service.name": "pay", "msg": "x 1"}) == "pay · x <n>"
    assert group_key({"name": "payments", "msg": "x 1"}) == "payments · x <n>"  # pino
    assert group_key({"target": "pay::api", "msg": "x 1"}) == "pay::api · x <n>"
    assert group_key({"msg": "x 1"}) == "x <n>"
    assert group_key({"service": "pay"}) is None  # no call site, no message
    assert group_key({"msg": ""}) is None
    assert group_key({"service": "pay", "msg": ""}) == "pay · "
    for record in ({"pathname": "/a.py"}, {"caller": "a.go:1"}, {"msg": "payment 4711"}):
        assert read(record).group == group_key(record)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"message": "m"}, "m"),
        ({"msg": "m"}, "m"),
        ({"event": "m"}, "m"),  # structlog
        ({"fields": {"message": "m"}}, "m"),  # tracing
        ({"@mt": "paid {Amount}"}, "paid {Amount}"),  # Serilog
        ({"@m": "paid 5", "@mt": "paid {Amount}"}, "paid 5"),
        ({"message": 5, "msg": "m"}, "m"),
        ({"event": {"dataset": "x"}}, None),  # ECS's event object
    ],
)
def test_messages(record: dict[str, Any], message: str | None) -> None:
    assert read(record).message == message


# ------------------------------------------------------------------------------- the time


@pytest.mark.parametrize(
    ("record", "when"),
    [
        ({"@timestamp": "2025-11-24T16:00:00.250Z"}, T0 + 0.25),
        ({"@timestamp": "2025-11-24T17:00:00.250+01:00"}, T0 + 0.25),
        ({"@timestamp": "2025-11-24 16:00:00,250"}, None),  # asctime: not read
        ({"created": T0 + 0.25}, T0 + 0.25),
        ({"time": T0 + 0.4}, T0),  # whole seconds, as Riemann's consumer rounds them
        ({"time": T0 + 0.5}, T0 + 1),
        ({"time": T0 * 1000 + 737}, T0 + 0.737),  # pino: ms
        ({"time": "2025-11-24T16:00:00.190Z"}, T0 + 0.19),  # bunyan, slog, zerolog
        ({"time": "2025-11-24T16:00:00.19012345Z"}, T0 + 0.19),  # slog's ns
        ({"timestamp": "2025-11-24T16:00:00.944862Z"}, T0 + 0.944),  # structlog, winston, tracing
        ({"ts": T0 + 0.125}, T0 + 0.125),  # zap
        ({"@t": "2025-11-24T16:00:00.5Z"}, T0 + 0.5),  # Serilog
        ({"instant": {"epochSecond": int(T0), "nanoOfSecond": 250_000_000}}, T0 + 0.25),
        ({"instant": {"epochSecond": int(T0)}}, T0),
        ({"@timestamp": "yesterday", "time": T0}, T0),  # one that does not parse is skipped
        ({"@timestamp": "2025-11-24T16:00:00Z", "time": 5}, T0),
        ({"time": True}, None),
        ({"time": math.inf}, None),
        ({"time": 10**400}, None),
        ({"instant": {"epochSecond": 10**400}}, None),
        ({}, None),
    ],
)
def test_times(record: dict[str, Any], when: float | None) -> None:
    got = read(record).time
    assert got == (None if when is None else pytest.approx(when, abs=1e-6))


# ------------------------------------------------------------------------------ the error


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (  # Go slog: the error's text under the key the caller picks
            {"level": "ERROR", "msg": "payment failed", "err": "gateway timeout"},
            ErrorInfo(None, "gateway timeout", None),
        ),
        (  # zap: error string, and the logger's own stack
            {"level": "error", "error": "timeout", "stacktrace": "main.pay\n\t/src/pay.go:27"},
            ErrorInfo(None, "timeout", "main.pay\n\t/src/pay.go:27"),
        ),
        (  # zerolog with pkgerrors: a stack of frames with string lines
            {
                "level": "error",
                "error": "timeout",
                "stack": [{"func": "pay", "line": "21", "source": "payments.go"}, "junk"],
            },
            ErrorInfo(None, "timeout", "at pay(payments.go:21)"),
        ),
        (  # Rust tracing
            {"level": "ERROR", "fields": {"message": "failed", "error": "timed out"}},
            ErrorInfo(None, "timed out", None),
        ),
        (  # Log4j 2: a structured thrown
            {
                "thrown": {
                    "name": "a.PayEx",
                    "message": "timeout",
                    "extendedStackTrace": [
                        {"class": "a.Pay", "method": "run", "file": "Pay.java", "line": 11},
                        {"class": "a.Main", "method": "main", "line": 3},
                    ],
                }
            },
            ErrorInfo("a.PayEx", "timeout", "at a.Pay.run(Pay.java:11)\nat a.Main.main(?:3)"),
        ),
        (  # logback: a Java stack string names the type on its first line
            {"stack_trace": "a.PayEx: timeout\n\tat a.Pay.run(Pay.java:11)\n"},
            ErrorInfo("a.PayEx", "timeout", "a.PayEx: timeout\n\tat a.Pay.run(Pay.java:11)\n"),
        ),
        (  # Serilog: .NET's exception text
            {"@x": "System.InvalidOperationException: no\n   at Pay.Run()"},
            ErrorInfo(
                "System.InvalidOperationException",
                "no",
                "System.InvalidOperationException: no\n   at Pay.Run()",
            ),
        ),
        (  # Python: the traceback's last line
            {"exc_info": "Traceback (most recent call last):\n  File \"a.py\"\nKeyError: 'x'\n\n"},
            ErrorInfo(
                "KeyError",
                "'x'",
                "Traceback (most recent call last):\n  File \"a.py\"\nKeyError: 'x'\n\n",
            ),
        ),
        (  # ECS: the object says it all; its stack has no header line
            {"error": {"type": "E", "message": "m", "stack_trace": '  File "a.py"\n'}},
            ErrorInfo("E", "m", '  File "a.py"\n'),
        ),
        (  # ECS flattened
            {"error.type": "E", "error.message": "m"},
            ErrorInfo("E", "m", None),
        ),
        (  # pino: err object with a V8 stack
            {"err": {"type": "E", "message": "m", "stack": "E: m\n    at f (a.js:1:2)"}},
            ErrorInfo("E", "m", "E: m\n    at f (a.js:1:2)"),
        ),
        (  # bunyan: name, not type
            {"err": {"name": "E", "message": "m", "stack": "E: m"}},
            ErrorInfo("E", "m", "E: m"),
        ),
        (  # winston: a top-level stack, the message from its head line
            {"stack": "PaymentTimeoutError: late\n    at f (a.js:1:2)"},
            ErrorInfo(
                "PaymentTimeoutError", "late", "PaymentTimeoutError: late\n    at f (a.js:1:2)"
            ),
        ),
        ({"stack": "not a head line\n"}, ErrorInfo(None, None, "not a head line\n")),
        ({"message": "fine"}, ErrorInfo()),
    ],
)
def test_errors(record: dict[str, Any], error: ErrorInfo) -> None:
    assert read(record).error == error


# -------------------------------------------------------------------------- shipped lines


# Serilog's CompactJsonFormatter (Serilog.Formatting.Compact), as its documentation states the
# format: @t (UTC, 7 fraction digits), @mt (the template, never rendered), @l left out at
# Information, @x (the exception's ToString()), @i (the event id: 8 hex digits), @r (renderings
# of formatted properties), the properties by name; SourceContext from ForContext<T>() or
# Microsoft.Extensions.Logging's ILogger<T>. No .NET SDK here: written, not generated.
SERILOG_ERROR = {
    "@t": "2026-12-07T10:28:01.0581234Z",
    "@mt": "Payment {PaymentId} failed after {Elapsed:0.0} ms",
    "@r": ["3000.0"],
    "@l": "Error",
    "@x": "Payments.PaymentTimeoutException: gateway did not answer payment 4711 within 3000 ms\n"
    "   at Payments.Gateway.Charge(Int32 id) in /src/Payments/Gateway.cs:line 42\n"
    "   at Payments.Worker.Run() in /src/Payments/Worker.cs:line 17",
    "@i": "a3f0c2d1",
    "PaymentId": 4711,
    "Elapsed": 3000.0,
    "SourceContext": "Payments.Gateway",
}


def test_serilog_compact_records_read_whole() -> None:
    error = read(SERILOG_ERROR)
    assert (error.level, error.message, error.logger, error.service) == (
        "error",
        "Payment {PaymentId} failed after {Elapsed:0.0} ms",
        "Payments.Gateway",
        None,
    )
    assert (error.file, error.line) == (None, None)  # Serilog writes no call site
    # The template is the message: one group for every payment, whatever its numbers.
    assert error.group == "Payments.Gateway · Payment {PaymentId} failed after {Elapsed:<n>} ms"
    assert error.time == pytest.approx(1796639281.058)
    assert error.error.type == "Payments.PaymentTimeoutException"
    assert error.error.message == "gateway did not answer payment 4711 within 3000 ms"
    assert error.error.stack == SERILOG_ERROR["@x"]
    information = read({"@t": "2026-12-07T10:28:00Z", "@mt": "started", "SourceContext": "P"})
    assert (information.level, information.group) == ("info", "P · started")
    # A service name added with Enrich.WithProperty("service", "payments") groups by it.
    named = read({**SERILOG_ERROR, "service": "payments"})
    assert named.group == "payments · Payment {PaymentId} failed after {Elapsed:<n>} ms"
    levels = {
        name: read({"@mt": "x", "@l": name}).level
        for name in ("Verbose", "Debug", "Information", "Warning", "Error", "Fatal")
    }
    assert levels == {
        "Verbose": "debug",
        "Debug": "debug",
        "Information": "info",
        "Warning": "warn",
        "Error": "error",
        "Fatal": "fatal",
    }


def test_a_shipped_line_is_read_as_the_record_it_carries() -> None:
    inner = {"level": 50, "msg": "payment 4711 failed", "name": "payments", "time": T0 * 1000}
    docker = {"log": json.dumps(inner) + "\n", "stream": "stderr", "time": "2025-11-24T16:00:01Z"}
    got = read(docker)
    assert (got.level, got.group, got.time) == ("error", "payments · payment <n> failed", T0)
    fluent = {"message": "  " + json.dumps(inner) + " ", "kubernetes": {"pod": "p"}}
    assert read(fluent).level == "error"
    # once: a record inside the inner one is not read
    twice = {"log": json.dumps({"log": json.dumps(inner)})}
    assert read(twice).level is None
    # a record with its own level is never unwrapped (a JSON message logged by a service)
    own = {"level": "error", "pathname": "/a.py", "message": json.dumps(inner)}
    assert read(own).group == "/a.py"
    # only the first string of log, message is looked at; what does not parse is kept as is
    assert read({"log": "not json", "message": json.dumps(inner)}).level is None
    assert read({"log": 5, "message": json.dumps(inner)}).level == "error"
    assert read({"log": "{not json}"}).message is None
    assert read({"log": "[1]"}).level is None
    too_big = {"log": json.dumps({**inner, "pad": "x" * 70_000})}
    assert read(too_big).level is None
    deep = {"log": "{" + '"a":{' * 2000 + "}" * 2001}
    assert read(deep).level is None


def test_the_raw_value_kinds() -> None:
    for value in (None, True, 1, 1.5, "text", [], [{"level": "error"}]):
        assert normalize(value) is None
    assert read({}).level is None and read({}).group is None


# ---------------------------------------------------------------------------- properties

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "level", "log.level", "levelname", "severity", "lvl", "@l", "level_value", "@mt",
        "message", "msg", "event", "fields", "@m", "pathname", "lineno", "log", "source",
        "caller_file_name", "caller_line_number", "src", "caller", "filename", "line_number",
        "file", "service", "service.name", "logger", "name", "target", "@timestamp", "created",
        "time", "timestamp", "ts", "@t", "instant", "err", "error", "exception", "exc_info",
        "thrown", "stack_trace", "stack", "stacktrace", "@x", "error.type",
    ]
)  # fmt: skip
RECORDS = st.dictionaries(KEYS, JSON, max_size=12)


def check_bounds(value: Any) -> None:
    record = normalize(value)
    if not isinstance(value, dict):
        assert record is None
        return
    assert record is not None
    assert record.level in (None, "debug", "info", "warn", "error", "fatal")
    assert record.message is None or len(record.message) <= MAX_MESSAGE
    assert record.file is None or 0 < len(record.file) <= MAX_FILE
    assert record.line is None or 0 <= record.line <= 10_000_000
    assert record.time is None or math.isfinite(record.time)
    assert record.service is None or len(record.service) <= MAX_NAME
    assert record.logger is None or len(record.logger) <= MAX_NAME
    assert record.group is None or 0 < len(record.group) <= MAX_GROUP
    assert record.group == group_key(record.raw)
    assert record.template is None or isinstance(record.template, str)
    error = record.error
    assert error.type is None or len(error.type) <= MAX_ERROR_TYPE
    assert error.message is None or len(error.message) <= MAX_ERROR_MESSAGE
    assert error.stack is None or len(error.stack) <= MAX_STACK


@settings(max_examples=400)
@given(JSON)
def test_any_json_value_gives_a_bounded_record_or_none(value: Any) -> None:
    check_bounds(value)


@settings(max_examples=600)
@given(RECORDS)
def test_records_of_the_known_keys_with_any_values(record: dict[str, Any]) -> None:
    check_bounds(record)


@settings(max_examples=300)
@given(RECORDS, st.sampled_from(["log", "message"]))
def test_shipped_records_of_any_values(inner: dict[str, Any], key: str) -> None:
    try:
        text = orjson.dumps(inner, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return  # integers beyond 64 bits: not what a shipper writes
    check_bounds({key: text, "stream": "stdout"})


@given(st.text(max_size=3000))
def test_any_message_templates_within_its_bound(message: str) -> None:
    assert len(template(message)) <= 3 * MAX_MESSAGE  # each mask is at most 6 for 1 char
    check_bounds({"level": "error", "msg": message, "service": "s"})


def test_huge_texts_are_cut() -> None:
    big = "x" * 1_000_000
    record = read(
        {
            "level": "error",
            "msg": big,
            "pathname": big,
            "service": big,
            "exception": big,
            "error": {"type": big, "message": big},
        }
    )
    check_bounds(record.raw)
    assert len(record.message) == MAX_MESSAGE and len(record.group) == MAX_FILE
