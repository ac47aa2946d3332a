"""A container's output lines into records (logtray.pipeline.lines), on real programs' output.

The fixtures in tests/shapes/lines/ are what real Python, Node, Java (logback) and Go programs
printed (tests/shapes/lines/generate.py regenerates them); the properties feed any text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.lines import Entry, Joiner, _clean, plain_level, record_from_entry
from logtray.pipeline.record import LEVELS, normalize

SHAPES = Path(__file__).resolve().parent.parent / "shapes"
LINES = SHAPES / "lines"
T0 = 1765112400.0  # 2025-12-07T13:00:00Z


def join(lines: list[str], joiner: Joiner | None = None, step: float = 0.001) -> list[Entry]:
    joiner = joiner or Joiner()
    entries: list[Entry] = []
    for index, line in enumerate(lines):
        entries += joiner.feed(line, T0 + index * step)
    return entries + joiner.flush()


def fixture(name: str) -> list[str]:
    # As Docker hands them over: one line each, the last one without its end when it had none.
    return (LINES / f"{name}.log").read_text(encoding="utf-8").split("\n")


def read(entry: Entry, service: str = "payments") -> Any:
    record = record_from_entry(entry, service, "payments-1")
    orjson.dumps(record)  # what the shipper sends: it serializes
    normalized = normalize(record)
    assert normalized is not None
    return normalized


# (first line, lines, level, error type, error message's start, file, line) of each entry.
EXPECTED: dict[str, list[tuple[str, int, str, str | None, str | None, str | None, int | None]]] = {
    "python": [
        ("INFO:payments:service started", 1, "info", None, None, None, None),
        ("no errors found in 3 files, error_count=0", 1, "info", None, None, None, None),
        *[
            (
                f"ERROR:payments:payment {p} failed",
                *(15, "error", "PaymentTimeoutError", f"gateway did not answer payment {p}"),
                *("/srv/app/python_app.py", 24),
            )
            for p in (4711, 4712)
        ],
        ("WARNING gateway: retrying payment 4713", 1, "warn", None, None, None, None),
        (
            "ERROR gateway: payment 4713 failed",
            *(15, "error", "PaymentTimeoutError", "gateway did not answer payment 4713"),
            *("/srv/app/python_app.py", 24),
        ),
        (
            "ERROR:payments:validation failed",
            *(11, "error", "ExceptionGroup", "two checks failed (2 sub-exceptions)"),
            *("/srv/app/python_app.py", 43),
        ),
        (
            "Traceback (most recent call last):",
            *(24, "error", "PaymentTimeoutError", "gateway did not answer payment 4714"),
            *("/srv/app/python_app.py", 24),
        ),
    ],
    "java": [
        ("[main] INFO payments - service started", 1, "info", None, None, None, None),
        *[
            (
                f"[main] ERROR payments - payment {p} failed",
                *(
                    18,
                    "error",
                    "Main$PaymentTimeoutException",
                    f"gateway did not answer payment {p}",
                ),
                *("Main.java", 20),
            )
            for p in (4711, 4712)
        ],
        (
            'Exception in thread "main" java.lang.ArrayIndexOutOfBoundsException: Index 3',
            *(2, "error", "java.lang.ArrayIndexOutOfBoundsException", "Index 3 out of bounds"),
            *("Main.java", 40),
        ),
    ],
    "node": [
        ("service started on port 3000", 1, "info", None, None, None, None),
        ("[warn] slow response from gateway: 2500 ms", 1, "warn", None, None, None, None),
        *[
            (
                f"payment {p} failed: Error: gateway did not answer payment {p}",
                *(15, "error", "Error", f"gateway did not answer payment {p}"),
                *("/srv/app/node_app.js", 7),
            )
            for p in (4711, 4712)
        ],
        (
            "Error: connect ECONNREFUSED 127.0.0.1:5432",
            *(11, "error", "Error", "connect ECONNREFUSED"),
            *("/srv/app/node_app.js", 19),
        ),
        ("GET /health 200 3 ms", 1, "info", None, None, None, None),
        (
            "/srv/app/node_app.js:26",
            *(10, "error", "TypeError", "Cannot read properties of undefined"),
            *("/srv/app/node_app.js", 26),
        ),
    ],
    "go-panic": [
        ("service started", 1, "info", None, None, None, None),
        ("ERROR payment 4711 failed", 1, "error", None, None, None, None),
        (
            "panic: gateway did not answer payment 4712 within 3000 ms",
            *(8, "fatal", "panic", "gateway did not answer payment 4712"),
            *("/srv/app/go_panic/main.go", 16),
        ),
    ],
    "python-syntax": [
        (
            '  File "/srv/app/python_syntax.txt", line 5',
            *(4, "error", "SyntaxError", "expected ':'"),
            *("/srv/app/python_syntax.txt", 5),
        ),
    ],
    "rust": [
        ("service started", 1, "info", None, None, None, None),
        (
            "thread 'main' (",
            *(9, "fatal", "panic", "gateway did not answer payment 4711 within 3000 ms"),
            *("main.rs", 7),
        ),
    ],
    "go-nil": [
        ("service started", 1, "info", None, None, None, None),
        (
            "panic: runtime error: invalid memory address or nil pointer dereference",
            *(10, "fatal", "panic", "runtime error: invalid memory address"),
            *("/srv/app/go_nil/main.go", 12),
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_programs_output_joins_into_their_entries(name: str) -> None:
    entries = join(fixture(name))
    got = []
    for entry in entries:
        record = read(entry)
        error = record.error
        got.append((entry, record, error))
    assert len(got) == len(EXPECTED[name]), [e.text.split("\n")[0] for e in entries]
    for (entry, record, error), want in zip(got, EXPECTED[name], strict=True):
        first, lines, level, kind, message, file, line = want
        assert first in entry.text.split("\n")[0], entry.text
        assert (entry.lines, record.level, error.type) == (lines, level, kind), entry.text
        assert (error.message or "").startswith(message or ""), error.message
        assert (record.file, record.line) == (file, line), entry.text
        assert not entry.truncated
        assert entry.text.count("\n") + 1 == entry.lines  # every line kept, none added


def test_a_fixture_loses_no_line_of_text() -> None:
    # Joined back together, the entries are the program's output without its blank lines
    # between entries (blank lines inside an entry stay in it).
    for name in EXPECTED:
        lines = fixture(name)
        entries = join(lines)
        kept = [line for e in entries for line in e.text.split("\n") if line.strip()]
        assert kept == [line for line in lines if line.strip()], name


def test_the_same_error_repeated_is_one_group() -> None:
    # Each language's two failed payments are one group; the group is not one per line.
    for name, service in (("python", "payments"), ("java", "payments"), ("node", "payments")):
        groups = [read(e, service).group for e in join(fixture(name)) if "\n" in e.text]
        assert groups[0] == groups[1], (name, groups)
    first, second = (read(Entry(f"payment {p} failed after 3000 ms", T0, 1, False)) for p in (1, 2))
    assert first.group == second.group == "payments · payment <n> failed after <n> ms"


def test_plain_text_records_state_what_a_reader_needs() -> None:
    entry = join(fixture("python"))[2]
    record = record_from_entry(entry, "payments", "payments-1")
    assert record["message"] == entry.text
    assert record["@timestamp"] == "2025-12-07T13:00:00.002+00:00"
    assert (record["service"], record["container"]) == ("payments", "payments-1")
    assert record["error"]["stack_trace"] == entry.text
    assert record["entry"] == {"lines": 15, "truncated": False}
    one = record_from_entry(Entry("GET / 200", T0, 1, False), "web", "web-1")
    assert one == {
        "@timestamp": "2025-12-07T13:00:00.000+00:00",
        "message": "GET / 200",
        "level": "info",
        "service": "web",
        "container": "web-1",
    }


# ------------------------------------------------------------------------- JSON object lines


def shaped(logger: str) -> list[str]:
    return (SHAPES / f"{logger}.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("logger", sorted(p.stem for p in SHAPES.glob("*.jsonl")))
def test_every_loggers_json_lines_read_as_their_own_records(logger: str) -> None:
    # The shape table's real JSON lines, each its own entry, read as the logger wrote them.
    lines = shaped(logger)
    entries = join(lines)
    assert [e.text for e in entries] == lines
    for entry, line in zip(entries, lines, strict=True):
        original = normalize(json.loads(line))
        record = record_from_entry(entry, "shipped-as", "c-1")
        shipped = normalize(record)
        assert original is not None and shipped is not None
        for key, value in json.loads(line).items():
            assert record[key] == value  # nothing of the logger's own is changed
        assert record["container"] == "c-1"
        same = ("level", "message", "file", "line", "logger")
        assert [getattr(shipped, k) for k in same] == [getattr(original, k) for k in same]
        assert shipped.service == (original.service or "shipped-as")
        if original.time is not None:
            assert shipped.time == original.time
        else:
            assert shipped.time == pytest.approx(entry.time, abs=0.001)


def test_a_json_line_ends_the_held_entry_and_is_whole_at_once() -> None:
    joiner = Joiner()
    assert joiner.feed("ERROR boom", T0) == []
    assert joiner.holding
    done = joiner.feed('{"level":"error","msg":"x"}', T0 + 1)
    assert [e.text for e in done] == ["ERROR boom", '{"level":"error","msg":"x"}']
    assert not joiner.holding and joiner.flush() == []


def test_a_json_line_that_is_not_json_is_plain_text() -> None:
    record = record_from_entry(Entry("{not json}", T0, 1, False), "s", "c")
    assert record["message"] == "{not json}" and record["level"] == "info"
    deep = "[" * 2000 + "]" * 2000
    record = record_from_entry(Entry('{"a":' + deep + "}", T0, 1, False), "s", "c")
    assert record["message"].startswith('{"a":[[[')


# --------------------------------------------------------------------------------- levels

LEVEL_CASES = [
    ("ERROR something broke", "error"),
    ("2026-12-07 13:00:00,123 ERROR app: payment failed", "error"),
    ("[2026-12-07 13:00:00] production.ERROR: payment failed", "error"),
    ("13:00:00.000 [main] WARN  c.e.Payments - slow", "warn"),
    ("2026-12-07T13:00:00.000Z\terror\tmain.go:12\tpayment failed", "error"),
    ("1765112400.123\twarn\tmain.go:12\tslow", "warn"),
    ('time="2026-12-07T13:00:00Z" level=error msg="payment failed"', "error"),
    ("level=warning msg=slow", "warn"),
    ('severity: "critical" boom', "fatal"),
    ("[error] payment failed", "error"),
    ("<warn> slow", "warn"),
    ("E1207 13:00:00.000000    12 main.go:42] payment failed", "error"),
    ("W1207 13:00:00.000000    12 main.go:42] slow", "warn"),
    ("I1207 13:00:00.000000    12 main.go:42] started", "info"),
    ("ERRO[0000] payment failed", "error"),
    ("WARNING:root:slow", "warn"),
    ("error: could not open /etc/app.toml", "error"),
    ("Error: connect ECONNREFUSED 127.0.0.1:5432", "error"),
    ("Traceback (most recent call last):", "error"),
    ("panic: runtime error: index out of range [5] with length 3", "fatal"),
    ("fatal error: all goroutines are asleep - deadlock!", "fatal"),
    ('Exception in thread "main" java.lang.IllegalStateException: x', "error"),
    ("java.lang.IllegalStateException: socket closed", "error"),
    ("CRITICAL:app:disk full", "fatal"),
    ("[2026-12-07 13:00:00 +0000] [1] [ERROR] Exception in worker process", "error"),
    ("2026-12-07T13:00:00.123Z ERROR 1 --- [main] o.s.b.SpringApplication : failed", "error"),
    ("thread 'main' (42) panicked at src/main.rs:7:9:", "fatal"),
    ("thread 'tokio-runtime-worker' panicked at 'boom', src/lib.rs:1:2", "fatal"),
    ("\x1b[31mERROR\x1b[0m payment failed", "error"),
    ("\x1b[32mINFO\x1b[0m:     Uvicorn running on http://0.0.0.0:8000", "info"),
    ("[main] INFO starting, 0 ERROR so far", "info"),  # the first level named wins
    ("no errors found", None),
    ("error_count=0 warnings=2", None),
    ("ERROR_COUNT=0", None),
    ("DEBUG=true", None),
    ("handled an error gracefully", None),
    ("terrorism is not a level", None),
    ("GET /health 200 3 ms", None),
    ("", None),
]


@pytest.mark.parametrize(("line", "level"), LEVEL_CASES)
def test_plain_level(line: str, level: str | None) -> None:
    assert plain_level(line) == level


@given(st.text())
def test_plain_level_is_a_level_or_none(text: str) -> None:
    assert plain_level(text) in (*LEVELS, None)


# --------------------------------------------------------------------------------- bounds


def test_a_long_entry_keeps_its_start_and_its_end_and_says_what_was_cut() -> None:
    frames = [f'  File "/app/deep.py", line {n}, in f' for n in range(1, 2001)]
    lines = ["Traceback (most recent call last):", *frames, "RecursionError: too deep"]
    [entry] = join(lines, Joiner(max_lines=100))
    assert (entry.lines, entry.truncated) == (2002, True)
    kept = entry.text.split("\n")
    assert len(kept) == 101  # 100 lines and the one that says how many were cut
    assert kept[0] == lines[0] and kept[-1] == "RecursionError: too deep"
    assert "[… 1902 lines cut …]" in kept
    record = read(entry)
    assert (record.error.type, record.file, record.line) == ("RecursionError", "/app/deep.py", 2000)


def test_a_huge_line_is_cut_to_the_bytes_bound() -> None:
    [entry] = join(["ERROR " + "é" * 1_000_000], Joiner(max_bytes=1024))
    assert entry.truncated and entry.lines == 1
    assert len(entry.text.encode()) <= 1024
    assert entry.text.endswith(" […]")


def test_bounds_that_cannot_hold_an_entry_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="an entry needs at least 1 line and 128 bytes"):
        Joiner(max_lines=0)
    with pytest.raises(ValueError, match="given 500 lines, 10 bytes"):
        Joiner(max_bytes=10)


# ----------------------------------------------------------------------------- properties

# Lines as a stranger writes them: any code point (lone surrogates, control characters), with
# the pieces the joining rules look for mixed in so that the rules are exercised.
PIECES = [
    "Traceback (most recent call last):",
    '  File "/app/x.py", line 3, in f',
    "ValueError: bad",
    "The above exception was the direct cause of the following exception:",
    "\tat com.example.Main.main(Main.java:5)",
    "Caused by: java.io.IOException: x",
    "java.lang.IllegalStateException: boom",
    "panic: boom",
    "goroutine 1 [running]:",
    "main.main()",
    "\t/app/main.go:9 +0x1d",
    "    at f (/app/x.js:1:2) {",
    "}",
    "  ^",
    "Error: boom",
    "Node.js v20.20.2",
    "thread 'main' (7) panicked at src/main.rs:7:9:",
    "thread 'main' panicked at 'boom', src/main.rs:7:9",
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    "2026-12-07 13:00:00 ERROR x",
    '{"level":"error","msg":"x"}',
    "",
    "   ",
]
ANY_CHAR = st.characters(codec=None, categories=None)
LINE = st.one_of(
    st.sampled_from(PIECES),
    st.text(ANY_CHAR, max_size=200),
    st.builds(lambda a, b: a + b, st.sampled_from(PIECES), st.text(ANY_CHAR, max_size=30)),
)
TIME = st.one_of(
    st.floats(min_value=0, max_value=4e9), st.sampled_from([math.nan, math.inf, -math.inf, -1e300])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(LINE, TIME), max_size=60), st.integers(1, 12), st.integers(128, 600))
def test_any_lines_join_into_bounded_entries_and_no_line_is_lost(
    fed: list[tuple[str, float]], max_lines: int, max_bytes: int
) -> None:
    small, large = Joiner(max_lines, max_bytes), Joiner(10_000, 10_000_000)
    bounded: list[Entry] = []
    whole: list[Entry] = []
    for line, time in fed:
        done = small.feed(line, time)
        assert len(done) <= 2 + line.removesuffix("\n").count("\n")  # 2 for one line
        bounded += done
        whole += large.feed(line, time)
        assert small.holding == large.holding
    bounded += small.flush()
    whole += large.flush()
    # The bounds never change where an entry ends: the same entries, some cut.
    assert [(e.lines, e.time) for e in bounded] == [(e.lines, e.time) for e in whole]
    for cut, entry in zip(bounded, whole, strict=True):
        assert math.isfinite(entry.time)
        assert not entry.truncated
        assert entry.lines == entry.text.count("\n") + 1
        size = len(cut.text.encode("utf-8"))  # no lone surrogate is left: it encodes
        assert size <= max_bytes
        assert cut.text.count("\n") + 1 <= max_lines + 1
        assert cut.truncated == (cut.text != entry.text)
    # Every line with text in it is in an entry (the whole ones), in order.
    kept = [line for e in whole for line in e.text.split("\n") if line.strip()]
    parts = [part for line, _ in fed for part in line.split("\n")]
    assert len(kept) == sum(1 for part in parts if _clean(part).strip())


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=20), st.integers(1, 50), st.booleans(), TIME)
def test_any_entry_is_a_record_that_ships_and_reads(
    lines: list[str], count: int, truncated: bool, time: float
) -> None:
    for joined in join(lines):
        # As joined, and with any count, flag and time (a record never trusts them).
        for entry in (joined, Entry(joined.text, time, count, truncated)):
            record = record_from_entry(entry, "svc", "c-1")
            orjson.dumps(record)
            normalized = normalize(record)
            assert normalized is not None
            if record.get("message") == entry.text:  # plain text
                assert normalized.level in LEVELS
                assert (record["service"], record["container"]) == ("svc", "c-1")
                assert normalized.group is not None


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), JSON_VALUE, max_size=8))
def test_any_json_object_line_keeps_every_field_of_its_own(value: dict[str, Any]) -> None:
    line = json.dumps(value, ensure_ascii=False)
    [entry] = join([line])
    record = record_from_entry(entry, "svc", "c-1")
    assert {k: record[k] for k in value} == value
    orjson.dumps(record)
    assert normalize(record) is not None


def test_an_indented_object_stays_in_its_entry() -> None:
    lines = ["Traceback (most recent call last):", '  File "/app/x.py", line 3, in f']
    lines += ['    {"gateway": 1}["payments"]', "KeyError: 'payments'"]
    [entry] = join(lines)
    assert entry.lines == 4
    pretty = ["{", '  "level": "error",', '  "msg": "payment failed"', "}"]
    [entry] = join(pretty)
    record = read(entry)
    assert (record.level, record.message) == ("error", "payment failed")


HOSTILE = [
    "(" * 60_000 + ")",
    "a" * 60_000,
    "    at " + " (" * 30_000,
    "\tat " + "a/" * 30_000,
    '  File "' + '"' * 60_000,
    "Error: " + "Error: " * 8_000,
    "9" * 60_000,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_lines_after_every_kind_of_head_are_read_in_one_pass(hostile: str) -> None:
    # A pattern with nested repeats backtracks quadratically on such lines (about a second for
    # each one, and a container can print them all day); each is read in one pass.
    for head in ("panic: x", "Traceback (most recent call last):", "Error: x", "java.io.E: x"):
        for lines in ([head, hostile], [head, "\t" + hostile], [head, "", hostile, "  x"]):
            for entry in join(lines):
                orjson.dumps(record_from_entry(entry, "s", "c"))


def test_an_entry_spans_at_most_five_seconds_of_its_lines() -> None:
    joiner = Joiner()
    done = [e for n in range(12) for e in joiner.feed(f"  row {n}", T0 + n)] + joiner.flush()
    assert [e.lines for e in done] == [6, 6]
    assert [e.time for e in done] == [T0, T0 + 6]


def test_the_rule_alerts_once_per_group_on_shipped_plain_text() -> None:
    # Every error entry of the real programs, each seen 26 times within a second (over the
    # threshold of 25 in 10 s): one alert per group, on the group's file where it has one.
    from logtray.tray.alerts.alert import Alert
    from logtray.tray.alerts.engine import RuleEngine
    from logtray.tray.base.config import EngineConfig

    errors = [
        record_from_entry(entry, name, f"{name}-1")
        for name in EXPECTED
        for entry in join(fixture(name))
        if read(entry, name).level in ("error", "fatal")
    ]
    groups = {normalize(record).group: normalize(record) for record in errors}  # type: ignore[union-attr]
    alerts: list[Alert] = []
    engine = RuleEngine(EngineConfig(), alerts.append, clock=lambda: T0 + 1)
    for record in groups.values():
        engine.feed([orjson.dumps(record.raw)] * 26)
    assert engine.malformed == 0
    assert sorted(a.pathname for a in alerts) == sorted(groups)
    for alert in alerts:
        assert alert.lineno == groups[alert.pathname].line


def test_a_stated_level_wins_over_the_stack_it_logs() -> None:
    lines = ["INFO:payments:retrying", "Traceback (most recent call last):"]
    lines += ['  File "/app/pay.py", line 3, in charge', "TimeoutError: slow"]
    [entry] = join(lines)
    record = read(entry)
    assert (record.level, record.error.type, record.file) == ("info", "TimeoutError", "/app/pay.py")
    [entry] = join(lines[1:])
    assert read(entry).level == "error"


def test_the_usual_log_line_formats_join_their_exception() -> None:
    # gunicorn's error log, and Spring Boot's default pattern (a blank line before the trace).
    gunicorn = ["[2026-12-07 13:00:00 +0000] [7] [ERROR] Exception in worker process"]
    gunicorn += ["Traceback (most recent call last):", '  File "/app/wsgi.py", line 9, in app']
    gunicorn += ["RuntimeError: boom", "[2026-12-07 13:00:01 +0000] [7] [INFO] Worker exiting"]
    first, last = join(gunicorn)
    assert (first.lines, read(first).error.type, read(last).level) == (4, "RuntimeError", "info")
    spring = ["2026-12-07T13:00:00.123Z ERROR 1 --- [main] o.s.b.SpringApplication : failed", ""]
    spring += [
        "java.lang.IllegalStateException: no runner",
        "\tat com.example.App.run(App.java:12)",
    ]
    [entry] = join(spring)
    record = read(entry)
    assert (entry.lines, record.level, record.file) == (4, "error", "App.java")
