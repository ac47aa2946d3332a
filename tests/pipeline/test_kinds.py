"""Error kinds (logtray.pipeline.kinds): the fingerprint is total, bounded and stable across
processes; the book is bounded and never raises, whatever the records say."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.kinds import (
    ID_CHARS,
    MAX_PLACE,
    MAX_TEMPLATE,
    Kind,
    KindBook,
    KindsConfig,
    KnownKind,
    kind_of,
    known_from_json,
    user_frame,
)
from logtray.pipeline.record import normalize
from tests.kind_cases import RECORDS
from tests.pipeline.test_record import JSON
from tests.pipeline.test_record import RECORDS as ANY_RECORDS

T0 = 1764000000.0


def kind(value: Any) -> Kind | None:
    record = normalize(value)
    return None if record is None else kind_of(record)


def check(value: Any) -> None:
    found = kind(value)
    if found is None:
        return
    assert len(found.id) == ID_CHARS and all(c in "0123456789abcdef" for c in found.id)
    assert len(found.template) <= MAX_TEMPLATE and len(found.file) <= MAX_PLACE
    assert len(found.type) <= 200 and len(found.service) <= 200
    assert found.line is None or 0 <= found.line <= 99_999_999
    assert found.type or found.template or found.file
    assert found.label()


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_any_json_value_has_a_bounded_kind_or_none(value: Any) -> None:
    check(value)


@settings(max_examples=600, deadline=None)
@given(ANY_RECORDS)
def test_records_of_the_known_keys_with_any_values(record: dict[str, Any]) -> None:
    check({**record, "level": "error"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_any_stack_text_is_read_without_raising(lines: list[str]) -> None:
    stack = "\n".join(lines)
    frame = user_frame(stack)
    assert frame is None or isinstance(frame[0], str)
    check({"level": "error", "message": "m", "exception": stack})


def test_kinds_are_the_same_in_another_process() -> None:
    """No per-process salt (Python's str hash is salted): the ids a fresh interpreter gives
    are the ids here."""
    names = sorted(RECORDS)
    here = {name: (k.id if (k := kind(RECORDS[name])) else None) for name in names}
    code = (
        "import json,sys\n"
        "from logtray.pipeline.record import normalize\n"
        "from logtray.pipeline.kinds import kind_of\n"
        "records = json.loads(sys.stdin.read())\n"
        "out = {}\n"
        "for name, value in records.items():\n"
        "    k = kind_of(normalize(value))\n"
        "    out[name] = k.id if k else None\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps({name: RECORDS[name] for name in names}),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
        timeout=120,
    )
    assert json.loads(done.stdout) == here


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", ""]),  # service
        st.integers(0, 40),  # which kind
        st.floats(0, 300),  # arrival step
        st.sampled_from(["observe", "resolve", "mute", "reopen", "due"]),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.integers(1, 20), st.integers(0, 6))
def test_the_book_stays_bounded_whatever_arrives(
    events: list[tuple[str, int, float, str]], max_kinds: int, burst_max: int
) -> None:
    book = KindBook(KindsConfig(learn_s=5, burst_max=burst_max, burst_s=10, max_kinds=max_kinds))
    now = T0
    for service, n, step, action in events:
        now += step
        k = Kind(f"{n:012x}", service, "E", f"t{n}", "f.py", n)
        if action == "observe":
            decision = book.observe(k, now)
            if decision is not None:
                assert decision.service == service
                assert decision.told in ("new", "regressed", "burst")
        elif action == "due":
            assert all(d.told == "learned" for d in book.due(now))
        else:
            state = {"resolve": "resolved", "mute": "muted", "reopen": "open"}[action]
            book.set_state(service, k.id, state)  # type: ignore[arg-type]
        assert len(book) <= max_kinds
    assert sum(book._per_service.values()) == len(book)
    # No state is kept for a service without kinds: bounded by max_kinds too.
    for per_service in (book._learning, book._new, book._burst):
        assert set(per_service) <= set(book._per_service)


def test_the_least_recently_seen_kind_goes_first() -> None:
    book = KindBook(KindsConfig(max_kinds=2))
    a, b, c = (Kind(x * 12, "s", "E", x, "f.py", 1) for x in "abc")
    book.load([KnownKind(a, T0, T0, 1, ""), KnownKind(b, T0 + 1, T0 + 1, 1, "")])
    book.observe(a, T0 + 2)
    decision = book.observe(c, T0 + 3)
    assert decision is not None and decision.told == "new"
    assert {k.kind.id for k in book.kinds()} == {a.id, c.id}
    assert book.forgotten == 1


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_a_kept_kind_read_back_is_bounded_or_refused(value: Any) -> None:
    known = known_from_json(value)
    if known is not None:
        assert len(known.kind.template) <= MAX_TEMPLATE and len(known.example) <= 500


def test_a_kept_kind_round_trips_and_its_id_is_recomputed() -> None:
    found = kind(RECORDS["node-pino"])
    assert found is not None
    known = KnownKind(found, T0, T0 + 5, 7, "payment 4711 failed", "resolved")
    assert known_from_json(json.loads(json.dumps(known.to_json()))) == known
    forged = {**known.to_json(), "id": "000000000000"}
    back = known_from_json(forged)
    assert back is not None and back.kind.id == found.id


def test_the_label_reads_as_the_notification_says() -> None:
    found = kind(RECORDS["node-pino"])
    assert found is not None
    assert found.label() == "PaymentTimeoutError at payments.js:16"


@settings(max_examples=600, deadline=None)
@given(ANY_RECORDS)
def test_a_record_without_the_error_keys_has_no_error(record: dict[str, Any]) -> None:
    """kind_of skips error_of for records without any key it reads: the same result."""
    from logtray.pipeline.kinds import _ERROR_HEADS
    from logtray.pipeline.record import ErrorInfo, error_of

    if _ERROR_HEADS.isdisjoint(record):
        assert error_of(record) == ErrorInfo()
    bare = {k: v for k, v in record.items() if k not in _ERROR_HEADS}
    assert error_of(bare) == ErrorInfo()


def test_a_lone_surrogate_hashes_as_java_encodes_it() -> None:
    from logtray.pipeline.kinds import kind_id

    assert kind_id("E\ud800", "t", "f.py") == kind_id("E?", "t", "f.py")
