"""The alert's evidence (issue 11): a stranger's object parsed within bounds; the engine's ring."""

from __future__ import annotations

import contextlib
import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.frames import MAX_FILE, MAX_FUNCTION
from logtray.pipeline.record import MAX_ERROR_TYPE
from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.engine import SpikeRule
from logtray.tray.alerts.evidence import (
    MAX_LINENO,
    MAX_LINES,
    MAX_MESSAGES,
    MAX_TEXT,
    Evidence,
    parse_evidence,
    record_of,
    summarize,
)
from logtray.tray.base.config import EngineConfig

GOOD = {
    "messages": [
        {"message": "database connection refused", "count": 150},
        {"message": "upstream timed out", "count": 3},
    ],
    "lines": [88, 57],
    "first": 1795600790.5,
    "last": 1795600800.0,
    "traceback": "ConnectionRefusedError: [Errno 111] Connection refused",
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=400),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
evidence_like = st.fixed_dictionaries(
    {},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={"message": json_values | st.text(max_size=700), "count": json_values},
            )
            | json_values,
            max_size=150,
        )
        | json_values,
        "lines": st.lists(json_values | st.integers(), max_size=150) | json_values,
        "first": json_values,
        "last": json_values,
        "traceback": st.text(max_size=3000) | json_values,
        "error_type": st.text(max_size=400) | json_values,
        "frame": st.fixed_dictionaries(
            {},
            optional={
                "file": st.text(max_size=700) | json_values,
                "line": json_values | st.integers(),
                "function": st.text(max_size=400) | json_values,
                "runtime": st.sampled_from(["go", "java", "x"]) | json_values,
            },
        )
        | json_values,
    },
)


def assert_bounded(evidence: Evidence) -> None:
    assert len(evidence.messages) <= MAX_MESSAGES
    counts = [count for _, count in evidence.messages]
    assert counts == sorted(counts, reverse=True)
    for text, count in evidence.messages:
        assert 0 < len(text) <= MAX_TEXT and text == text.strip()
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)
        assert isinstance(count, int) and count >= 1
    assert list(evidence.lines) == sorted(set(evidence.lines)) and len(evidence.lines) <= MAX_LINES
    if evidence.first is not None and evidence.last is not None:
        assert evidence.first <= evidence.last
    if evidence.traceback is not None:
        assert 0 < len(evidence.traceback) <= MAX_TEXT and "\n" not in evidence.traceback
    if evidence.error_type is not None:
        assert 0 < len(evidence.error_type) <= MAX_ERROR_TYPE and "\n" not in evidence.error_type
    if evidence.frame is not None:
        frame = evidence.frame
        assert 0 < len(frame.file) <= MAX_FILE and frame.file == frame.file.strip()
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in frame.file)
        assert frame.line is None or 0 <= frame.line <= MAX_LINENO
        assert frame.function is None or 0 < len(frame.function) <= MAX_FUNCTION
        assert parse_evidence(evidence.to_json()) == evidence  # the history reads it back
    json.dumps(evidence.to_json(), allow_nan=False)  # what the history writes


def test_the_schema_parses_and_round_trips_through_the_history():
    evidence = parse_evidence(GOOD)
    assert evidence is not None
    assert evidence.messages == (("database connection refused", 150), ("upstream timed out", 3))
    assert evidence.lines == (57, 88)
    assert evidence.traceback == GOOD["traceback"]
    alert = parse_message(json.dumps({"pathname": "/app/payments.py", "evidence": GOOD}))
    assert alert.evidence == evidence
    assert alert.message == "database connection refused"  # the popup's top message
    assert Alert.from_record(alert.to_record()) == alert


def test_old_senders_keep_working_without_evidence():
    assert parse_message("FOUND PROBLEM IN /app/a.py:12").evidence is None
    plain = parse_message('{"pathname": "/app/a.py", "count": 31, "message": "own"}')
    assert plain.evidence is None and "evidence" not in plain.to_record()
    mine = parse_message(json.dumps({"message": "own", "evidence": GOOD}))
    assert mine.message == "own"  # a sender's own message wins over the sample


def test_hostile_parts_are_cleaned_cut_and_merged():
    evidence = parse_evidence(
        {
            "messages": [
                {"message": "a\x1b[31mred\r\nforged line\u202e", "count": 2},
                {"message": "x" * 5000, "count": 1},
                {"message": "x" * 301, "count": 4},  # the same after the 300 cut: merged
                {"message": "", "count": 9},
                {"message": "n", "count": True},
                {"message": "m", "count": 0},
                {"message": "big", "count": 2**80},
                "not an object",
            ],
            "lines": [5, 5, -1, 3.0, 2.5, "7", True, *range(100, 200)],
            "first": 2e9,
            "last": 1e9,  # swapped back into order
            "traceback": "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n\n",
        }
    )
    assert evidence is not None
    assert dict(evidence.messages) == {"x" * 300: 5, "a [31mred  forged line": 2}
    assert evidence.lines[:3] == (3, 5, 100) and len(evidence.lines) == MAX_LINES
    assert (evidence.first, evidence.last) == (1e9, 2e9)
    assert evidence.traceback == "KeyError: 'x'"
    assert_bounded(evidence)


@settings(max_examples=60, deadline=None)
@given(evidence_like)
def test_any_evidence_object_is_bounded_and_never_raises(value):
    evidence = parse_evidence(value)
    if evidence is not None:
        assert_bounded(evidence)
        assert parse_evidence(evidence.to_json()) == evidence  # stable


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_any_json_value_as_evidence_never_raises(value):
    evidence = parse_evidence(value)
    assert evidence is None or isinstance(evidence, Evidence)
    text = json.dumps({"pathname": "/a.py", "evidence": value}, default=str)
    alert = parse_message(text)
    # NaN/Infinity and integers beyond 64 bits are not JSON to orjson: such a line is text.
    assert alert.pathname == "/a.py" or alert.message == text


# -- the engine's side --------------------------------------------------------------------------


def error(message: str = "boom", lineno: object = 3, **more: object) -> dict[str, object]:
    return {"level": "error", "pathname": "/app/a.py", "message": message, "lineno": lineno, **more}


def test_the_alert_at_the_crossing_carries_the_whole_window():
    rule = SpikeRule(EngineConfig(window_s=10.0, threshold=25))
    rule.observe(error("long ago", lineno=1), now=50.0)  # outside the window at the crossing
    alert = None
    for i in range(26):
        message = "database connection refused" if i % 3 else "upstream timed out"
        alert = rule.observe(error(message, lineno=88 if i % 3 else 57), now=100.0 + i * 0.1)
    assert alert is not None and alert.evidence is not None
    assert alert.evidence.messages == (
        ("database connection refused", 17),
        ("upstream timed out", 9),
    )
    assert alert.message == "database connection refused"
    assert alert.evidence.lines == (57, 88)
    assert alert.evidence.first == 100.0 and alert.evidence.last == 102.5
    assert alert.evidence.traceback is None


def test_the_last_traceback_s_final_line_from_exception_or_exc_info():
    rule = SpikeRule(EngineConfig(threshold=2))
    rule.observe(error(exception="Traceback...\nValueError: first"), now=1.0)
    rule.observe(error(exc_info="Traceback...\nKeyError: 'second'\n"), now=1.1)
    alert = rule.observe(error(), now=1.2)
    assert alert is not None and alert.evidence is not None
    assert alert.evidence.traceback == "KeyError: 'second'"
    kept = rule.records("/app/a.py")
    assert [r.time for r in kept] == [1.0, 1.1, 1.2]
    assert kept[0].traceback == "Traceback...\nValueError: first"
    assert kept[0].level == "error" and kept[0].lineno == 3


def test_evidence_off():
    rule = SpikeRule(EngineConfig(threshold=1, evidence_records=0))
    rule.observe(error(), now=1.0)
    alert = rule.observe(error(), now=1.1)
    assert alert is not None and alert.evidence is None and rule.recent is None
    assert rule.records("/app/a.py") == []


def test_records_are_kept_as_received_or_cut_to_their_bounded_fields():
    rule = SpikeRule(EngineConfig(threshold=1000, evidence_records=3))
    small = json.dumps(error("as sent")).encode()
    rule.observe(json.loads(small), 1.0, small)
    huge = error("y" * 100_000, lineno=2**40, exception="z" * 100_000, service="s" * 9000)
    rule.observe(huge, 2.0, json.dumps(huge).encode())
    rule.observe(error("no bytes given"), 3.0)
    first, big, third = rule.records("/app/a.py")
    assert first.message == "as sent" and third.message == "no bytes given"
    assert len(big.message) == MAX_TEXT and big.lineno is None
    assert len(big.traceback or "") == 2000 and big.level == "error"
    assert len(record_of(0.0, {"level": "e" * 1000}).level) == 20
    assert rule.records("/other.py") == []


def test_rings_are_bounded_per_file_and_outlive_the_rule_s_group_boundedly():
    config = EngineConfig(
        window_s=1.0, threshold=2, throttle_s=1.0, evidence_records=3, evidence_files=2
    )
    rule = SpikeRule(config)
    for i in range(10):
        rule.observe(error(f"m{i}"), now=i * 0.01)
    kept = rule.records("/app/a.py")
    # At least threshold + 1 records per file, so the counts at a crossing are exact.
    assert [r.message for r in kept] == ["m7", "m8", "m9"]
    for n, path in enumerate(("/b.py", "/c.py")):
        rule.observe({**error(), "pathname": path}, now=1.0 + n * 0.01)
    assert rule.records("/b.py") and rule.records("/c.py") == []  # 2 live rings at most
    rule.sweep(now=100.0)  # every group is forgotten; their rings are retired
    assert rule.groups == 0 and rule.recent is not None and len(rule.recent) == 2
    assert [r.message for r in rule.records("/app/a.py")] == ["m7", "m8", "m9"]
    rule.observe({**error("again"), "pathname": "/b.py"}, now=101.0)  # its ring taken back
    assert [r.message for r in rule.records("/b.py")] == ["boom", "again"]
    rule.observe({**error(), "pathname": "/c.py"}, now=101.0)
    rule.sweep(now=200.0)  # three retired: the least recently retired (/app/a.py) goes
    assert rule.records("/app/a.py") == [] and rule.records("/b.py") and rule.records("/c.py")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["message", "msg", "lineno", "exception", "exc_info", "level"]),
            json_values,
        ),
        max_size=30,
    )
)
def test_any_record_fields_never_break_the_ring(events):
    rule = SpikeRule(EngineConfig(threshold=1000, evidence_records=10))
    for i, event in enumerate(events):
        event = {**event, "level": "error", "pathname": "/a.py"}
        raw = None
        if i % 2:  # as the engine gets it: bytes orjson could parse
            with contextlib.suppress(TypeError):
                raw = orjson.dumps(event)
        assert rule.observe(event, float(i), raw) is None
    kept = rule.records("/a.py")
    assert len(kept) == len(events)  # the ring holds threshold + 1 = 1001
    assert_bounded(summarize(kept))


def test_a_flood_of_distinct_paths_keeps_at_most_evidence_files_rings():
    rule = SpikeRule(EngineConfig(threshold=1, evidence_records=5, evidence_files=3))
    for i in range(1000):
        rule.observe({**error(), "pathname": f"/flood/{i}.py"}, now=1.0)
    assert sum(bool(rule.records(f"/flood/{i}.py")) for i in range(1000)) == 3
    rule.sweep(now=1000.0)
    assert rule.recent is not None and len(rule.recent) == 3
    for i in range(2):  # a real file failing after the flood gets its ring again
        alert = rule.observe(error("real"), now=1001.0 + i)
    assert alert is not None and alert.evidence and alert.evidence.top_message == "real"
