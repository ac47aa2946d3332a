"""Which alerts of the history were told (tray/alerts/shown.py): the marks beside the history
file survive a restart, stay bounded with it, and nothing in the marks file — a torn write,
anything a stranger put there — can stop the history from loading."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.alerts.alert import MAX_ID_CHARS
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.alerts.shown import parse_marks

# Every path this process opens while a test collects them (an audit hook cannot be removed:
# it records only while `_OPENED` is a list).
_OPENED: list[str] | None = None


def _record_open(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _OPENED is not None:
        _OPENED.append(os.fsdecode(args[0]) if isinstance(args[0], (str, bytes)) else "")


sys.addaudithook(_record_open)

IDS = st.text(min_size=1, max_size=MAX_ID_CHARS)


def kept(history: AlertHistory, n: int, alert_id: str | None = None) -> None:
    entry = {"received": 1000.0 + n, "peer": "t", "told": "live", "pathname": f"/app/f{n}.py"}
    history.append({**entry, "id": alert_id or f"id-{n}"})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_to_ids_of_an_ids_length_or_nothing(data: bytes) -> None:
    ids, _ = parse_marks(data)
    assert all(isinstance(i, str) and 0 < len(i) <= MAX_ID_CHARS for i in ids)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=500),
        st.lists(st.one_of(st.text(), st.binary()), max_size=8).map(
            lambda parts: b"\n".join(p.encode() if isinstance(p, str) else p for p in parts)
        ),
    ),
    st.lists(IDS, min_size=1, max_size=5, unique=True),
)
def test_a_hostile_marks_file_never_stops_the_history_and_later_marks_survive(
    marks: bytes, ids: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alerts.jsonl"
        history = AlertHistory(path)
        for n, alert_id in enumerate(ids):
            kept(history, n, alert_id)
        history.close()
        path.with_suffix(".shown").write_bytes(marks)

        loaded = AlertHistory(path)
        told_before = {e["id"] for e in loaded.recent()} - {e["id"] for e in loaded.unshown(0)}
        assert told_before <= set(ids)
        loaded.mark_shown(ids[:1])
        loaded.close()
        again = AlertHistory(path)
        assert ids[0] in again.shown  # on a line of its own, after whatever was there
        assert {e["id"] for e in again.unshown(0)} == set(ids) - told_before - {ids[0]}
        again.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(IDS, min_size=1, max_size=10, unique=True))
def test_marks_of_any_id_survive_a_restart(ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alerts.jsonl"
        history = AlertHistory(path)
        for n, alert_id in enumerate(ids):
            kept(history, n, alert_id)
        history.mark_shown(ids[::2])
        history.close()
        unshown = AlertHistory(path).unshown(0)
        assert [e["id"] for e in unshown] == ids[1::2]


def test_alerts_kept_but_never_marked_are_named_within_the_age_asked(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path)
    for n in range(4):
        kept(history, n)
    history.append({"received": 1005.0, "pathname": "/app/no-id.py"})  # cannot be marked
    history.mark_shown(["id-1"])
    history.close()
    reopened = AlertHistory(path)
    assert [e["id"] for e in reopened.unshown(1002.0)] == ["id-2", "id-3"]
    assert [e["id"] for e in reopened.unshown(0)] == ["id-0", "id-2", "id-3"]


def test_a_history_kept_before_marks_existed_tells_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path)
    kept(history, 1)
    history.close()
    path.with_suffix(".shown").unlink()  # as an older version left it
    assert AlertHistory(path).unshown(0) == []
    assert AlertHistory(path).unshown(0) == []  # and the marks were written


def test_the_marks_stay_bounded_with_the_history(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path, limit=10)
    for n in range(105):
        kept(history, n)
        history.mark_shown([f"id-{n}"])
    history.flush()
    marks = path.with_suffix(".shown").read_text().splitlines()
    assert len(marks) <= 2 * 10 and '"id-104"' in marks
    history.close()
    reopened = AlertHistory(path, limit=10)
    assert len(reopened.shown) == 10 and reopened.unshown(0) == []


def test_the_marks_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path)
    kept(history, 1)
    history.mark_shown(["id-1"])
    history.close()
    assert stat.S_IMODE(os.stat(path.with_suffix(".shown")).st_mode) == 0o600


def test_a_marks_path_that_is_no_file_keeps_the_marks_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.with_suffix(".shown").mkdir()
    history = AlertHistory(path)
    kept(history, 1)
    history.mark_shown(["id-1"])
    history.flush()
    assert history.unshown(0) == [] and history.shown.problem is not None
    assert history.problem is None  # the alerts themselves are still kept in their file
    history.close()
    assert [e["id"] for e in AlertHistory(path).recent()] == ["id-1"]


def test_marks_that_cannot_be_read_tell_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path)
    for n in range(3):
        kept(history, n)
    history.mark_shown([f"id-{n}" for n in range(3)])
    history.close()
    path.with_suffix(".shown").unlink()
    path.with_suffix(".shown").mkdir()  # a marks file that can no longer be read
    reopened = AlertHistory(path)
    assert reopened.shown.problem is not None
    assert reopened.unshown(0) == []  # not every recent alert in the next summary again
    reopened.close()


def test_the_marks_stay_bounded_when_the_history_is_kept_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.mkdir()  # the history's own file cannot be used: it never compacts
    history = AlertHistory(path, limit=10)
    for n in range(500):
        kept(history, n)
        history.mark_shown([f"id-{n}"])
    assert history.problem is not None
    assert len(history.shown) <= 2 * 10 and "id-499" in history.shown
    assert history.unshown(0) == []
    history.close()


def test_read_only_readers_never_read_the_marks(tmp_path: Path) -> None:
    """`logtray alerts` and doctor read the history read-only: they never ask which alerts
    were told, so the marks file (up to 16 MB of it) is never opened."""
    global _OPENED
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path)
    for n in range(3):
        kept(history, n)
    history.mark_shown(["id-0", "id-1"])
    history.flush()
    history.close()
    marks = path.with_suffix(".shown")
    assert marks.read_text().splitlines() == ['"id-0"', '"id-1"']
    _OPENED = []
    try:
        reader = AlertHistory(path, read_only=True)
        assert [e["id"] for e in reader.recent()] == ["id-2", "id-1", "id-0"]
        reader.close()
        opened = _OPENED
    finally:
        _OPENED = None
    assert str(path) in opened and str(marks) not in opened
    with pytest.raises(RuntimeError, match="read-only"):
        reader.unshown(0)
    # The listener's own start still reads them.
    assert [e["id"] for e in AlertHistory(path).unshown(0)] == ["id-2"]
