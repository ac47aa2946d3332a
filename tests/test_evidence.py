"""The alert's evidence (issue 11): a stranger's object parsed within bounds; the engine's ring."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tray.alert import Alert, parse_message
from tray.config import EngineConfig
from tray.engine import SpikeRule
from tray.evidence import (
    MAX_LINES,
    MAX_MESSAGES,
    MAX_TEXT,
    Evidence,
    RecentErrors,
    parse_evidence,
)

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
    max_leaves=40,
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


@given(evidence_like)
def test_any_evidence_object_is_bounded_and_never_raises(value):
    evidence = parse_evidence(value)
    if evidence is not None:
        assert_bounded(evidence)
        assert parse_evidence(evidence.to_json()) == evidence  # stable


@given(json_values)
def test_any_json_value_as_evidence_never_raises(value):
    evidence = parse_evidence(value)
    assert evidence is None or isinstance(evidence, Evidence)
    alert = parse_message(json.dumps({"pathname": "/a.py", "evidence": value}, default=str))
    assert alert.pathname == "/a.py"


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
    assert rule.recent is not None
    records = rule.recent.records("/app/a.py")
    assert [r.time for r in records] == [1.0, 1.1, 1.2]
    assert records[0].traceback == "Traceback...\nValueError: first"
    assert records[0].level == "error" and records[0].lineno == 3


def test_evidence_off():
    rule = SpikeRule(EngineConfig(threshold=1, evidence_records=0))
    rule.observe(error(), now=1.0)
    alert = rule.observe(error(), now=1.1)
    assert alert is not None and alert.evidence is None and rule.recent is None


def test_the_ring_is_bounded_per_file_and_in_files():
    recent = RecentErrors(per_file=3, files=2)
    for i in range(10):
        recent.add("/a.py", float(i), error(f"m{i}"))
    assert [r.message for r in recent.records("/a.py")] == ["m7", "m8", "m9"]
    recent.add("/b.py", 11.0, error())
    recent.add("/a.py", 12.0, error())  # /a.py fails again: /b.py is now the oldest
    recent.add("/c.py", 13.0, error())
    assert len(recent) == 2
    assert recent.records("/b.py") == [] and recent.records("/a.py")
    huge = error("y" * 100_000, lineno=2**40, exception="z" * 100_000, level="e" * 1000)
    recent.add("/c.py", 14.0, huge)
    kept = recent.records("/c.py")[-1]
    assert len(kept.message) == MAX_TEXT and kept.lineno is None
    assert len(kept.traceback or "") == 2000 and len(kept.level) == 20


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
    recent = RecentErrors(per_file=10, files=2)
    for i, event in enumerate(events):
        recent.add("/a.py", float(i), event)
    assert_bounded(recent.evidence("/a.py", since=-1.0))
    assert len(recent.records("/a.py")) == min(10, len(events))
