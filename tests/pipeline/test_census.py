"""What `logtray doctor` tells per service (logtray.pipeline.census) and the shape it names
(logtray.pipeline.shapes): every fixture of tests/shapes/ named for its logger, and any
message — bytes or JSON from a stranger — tallied without an exception, within its bounds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline import shapes
from logtray.pipeline.census import (
    EXAMPLE_CHARS,
    MAX_SERVICES,
    MAX_SHAPES,
    MAX_VALUE,
    NO_NAME,
    OTHERS,
    Census,
    example,
    read_message,
)
from logtray.pipeline.shapes import shape_of

SHAPES = Path(__file__).resolve().parent.parent / "shapes"

NAMED = {
    "python-logtray": shapes.LOGTRAY,
    "python-structlog": shapes.STRUCTLOG,
    "python-ecs-logging": shapes.ECS,
    "python-json-logger": shapes.PYTHON_JSON_LOGGER,
    "node-pino": shapes.PINO,
    "node-pino-caller": shapes.PINO_CALLER,
    "node-winston": shapes.WINSTON,
    "node-bunyan": shapes.BUNYAN,
    "java-log4j2": shapes.LOG4J2,
    "java-logback": shapes.LOGBACK,
    "go-slog": shapes.SLOG,
    "go-zerolog": shapes.ZEROLOG,
    "go-zap": shapes.ZAP,
    "rust-tracing": shapes.TRACING,
}


def fixture(name: str) -> list[bytes]:
    return (SHAPES / f"{name}.jsonl").read_bytes().splitlines()


def test_every_fixture_is_named_for_its_logger() -> None:
    assert set(NAMED) == {p.stem for p in SHAPES.glob("*.jsonl")}
    for name, expected in NAMED.items():
        got = {shape_of(orjson.loads(line)) for line in fixture(name)}
        assert got == {expected}, name


def test_the_names_are_distinct_and_say_where_the_level_and_message_are() -> None:
    assert len(set(NAMED.values())) == len(NAMED)
    assert shapes.PINO == "pino (numeric level, msg)"


@pytest.mark.parametrize(
    ("record", "name"),
    [
        # Serilog's CompactJsonFormatter (its documented fields; @l left out at Information).
        ({"@t": "2026-12-07T10:00:00.1Z", "@mt": "paid {Amount}", "Amount": 5}, shapes.SERILOG),
        ({"@t": "2026-12-07T10:00:00Z", "@mt": "x", "@l": "Error", "@x": "E: x"}, shapes.SERILOG),
        ({"level": "warning", "msg": "x"}, "JSON (level, msg)"),
        ({"severity": "ERROR", "text": "x"}, "JSON (severity)"),
        ({"hello": 1}, "JSON (no level or message key)"),
        (
            {"log": '{"level":30,"msg":"m","pid":1}\n', "stream": "stdout"},
            f"a shipped line (log) of {shapes.PINO}",
        ),
        (
            {"message": '{"levelname":"INFO","message":"m"}'},
            f"a shipped line (message) of {shapes.PYTHON_JSON_LOGGER}",
        ),
    ],
)
def test_other_shapes_are_named(record: dict[str, Any], name: str) -> None:
    assert shape_of(record) == name


def test_not_an_object_is_named_so() -> None:
    assert shape_of([1]) == "not a JSON object"


@pytest.mark.parametrize(
    ("raw", "problem", "reason"),
    [
        (b"", "empty", "an empty message"),
        (None, "empty", "an empty message"),
        (b"payment failed\n", "not-json", "not JSON"),
        (b"[1, 2]", "not-object", "JSON but not an object (an array)"),
        (b'"x"', "not-object", "JSON but not an object (a string)"),
        (b"null", "not-object", "JSON but not an object (null)"),
        (b"true", "not-object", "JSON but not an object (a boolean)"),
        (b"12", "not-object", "JSON but not an object (a number)"),
        (
            b'{"msg": "x"}',
            "no-level",
            "no level field (level, log.level, levelname, severity, lvl, @l, level_value)",
        ),
        (b'{"severity": "loud"}', "unknown-level", '"severity": "loud" is no level logtray knows'),
        (b'{"level": 7000}', "unknown-level", '"level": 7000 is no level logtray knows'),
        (b'{"level": ["error"]}', "unknown-level", '"level": list is no level logtray knows'),
        (
            b'{"level": "error"}',
            "no-group",
            "an error record with neither a call site nor a message: not counted",
        ),
    ],
)
def test_what_the_rule_cannot_read_and_why(raw: bytes | None, problem: str, reason: str) -> None:
    reading = read_message(raw)
    assert (reading.problem, reading.reason, reading.counted) == (problem, reason, False)


def test_too_large_is_not_decoded() -> None:
    reading = read_message(b'{"level": "error", "msg": "' + b"x" * MAX_VALUE + b'"}')
    assert reading.problem == "too-large"


def test_errors_are_counted_at_the_configured_level_and_above() -> None:
    warn = b'{"level": "warn", "msg": "slow", "service": "api"}'
    assert not read_message(warn).counted
    assert read_message(warn, level="warn").counted
    assert read_message(b'{"level": 60, "msg": "down"}').counted  # pino's fatal
    assert read_message(b'{"level": "info", "msg": "x"}').problem is None


def test_a_service_without_a_level_is_one_sentence_with_the_fix() -> None:
    census = Census()
    for i in range(3):
        census.add(json.dumps({"service": "billing", "msg": f"charge {i} failed"}).encode())
    (tally,) = census.tallies()
    assert tally.who == "billing" and not tally.ok
    assert tally.summary() == (
        "3 records (JSON (msg)), none with a level the rule reads (no level field (level, "
        "log.level, levelname, severity, lvl, @l, level_value)), so none of its errors is "
        'counted; e.g. {"service": "billing", "msg": "charge 0 failed"}'
    )
    assert tally.fix().startswith('add a level field to every record (e.g. "level": "error"')
    assert tally.fix().endswith("see docs/languages.md")


def test_the_fixtures_tallied_per_service() -> None:
    census = Census()
    for name in ("node-pino", "python-logtray", "go-slog"):
        for line in fixture(name):
            census.add(line)
    census.add(b"\x1b[31mnot json")
    tallies = {t.who: t for t in census.tallies()}
    assert set(tallies) == {"payments", NO_NAME}
    payments = tallies["payments"]
    assert payments.ok and payments.records == 28 and payments.errors == 24
    assert payments.summary() == (
        f"28 records; {shapes.PINO} ×14, {shapes.LOGTRAY} ×14; 24 errors counted"
    )
    unnamed = tallies[NO_NAME]  # slog names no service; the bytes that are not JSON neither
    assert (unnamed.records, unnamed.errors, unnamed.unreadable) == (15, 12, 1)
    assert unnamed.summary().endswith("1 unreadable, e.g. not JSON: \x1b[31mnot json")
    assert census.tallies()[0] is unnamed  # the services with a problem come first


def test_services_beyond_the_bound_are_tallied_together() -> None:
    census = Census()
    for i in range(MAX_SERVICES + 10):
        census.add(json.dumps({"service": f"s{i}", "level": "info", "msg": "x"}).encode())
    assert len(census.services) == MAX_SERVICES + 1
    assert census.services[OTHERS].records == 10
    assert census.records == MAX_SERVICES + 10


def test_example_is_bounded() -> None:
    assert example(b"a" * 1000) == "a" * EXAMPLE_CHARS + "…"
    assert example("é".encode() * 10) == "é" * 10
    assert example(b"\xff\xfe") == "\ufffd\ufffd"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "level",
                    "log.level",
                    "severity",
                    "@l",
                    "@mt",
                    "msg",
                    "message",
                    "service",
                    "name",
                    "log",
                    "pathname",
                    "caller",
                    "v",
                    "ts",
                    "time",
                    "fields",
                    "target",
                    "source",
                    "x",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


def messages() -> st.SearchStrategy[bytes | None]:
    encoded = json_values.map(lambda v: json.dumps(v).encode())
    return st.none() | st.binary(max_size=200) | encoded


@settings(max_examples=300, deadline=None)
@given(st.lists(messages(), max_size=30), st.sampled_from(["debug", "info", "warn", "error"]))
def test_any_messages_are_tallied_within_bounds(values: list[bytes | None], level: str) -> None:
    census = Census(level=level)
    for raw in values:
        reading = census.add(raw)
        assert (reading.problem is None) == (reading.reason is None)
        assert not (reading.counted and reading.problem)
    assert census.records == len(values)
    assert len(census.services) <= MAX_SERVICES + 1
    for tally in census.tallies():
        assert tally.errors + tally.unreadable <= tally.records
        assert len(tally.shapes) <= MAX_SHAPES + 1
        assert tally.ok == (tally.example is None)
        assert tally.example is None or len(tally.example) <= EXAMPLE_CHARS + 1
        assert isinstance(tally.summary(), str)
        assert tally.ok == (tally.fix() == "")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_gets_a_name(value: Any) -> None:
    if isinstance(value, dict):
        assert shape_of(value)
    else:
        assert shape_of(value) == "not a JSON object"
