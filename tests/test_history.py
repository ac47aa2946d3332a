import json
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.alerts.history import AlertHistory
from tests.conftest import need


def test_entries_survive_a_restart(tmp_path):
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path, limit=10)
    for i in range(3):
        history.append({"n": i})
    history.close()
    reopened = AlertHistory(path, limit=10)
    assert [e["n"] for e in reopened.recent()] == [2, 1, 0]


def test_bounded_in_memory_and_on_disk(tmp_path):
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path, limit=100)
    for i in range(1050):
        history.append({"n": i})
    history.flush()
    assert len(history) == 100
    assert len(path.read_text().splitlines()) < 200
    history.close()
    assert AlertHistory(path, limit=100).recent(1) == [{"n": 1049}]


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"n": 1}\n{"n": 2\n')
    assert AlertHistory(path).recent() == [{"n": 1}]


def test_torn_last_line_is_repaired_so_the_next_alert_survives_a_restart(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "pa')  # a crash in the middle of a write
    history = AlertHistory(path)
    history.append({"n": 3})
    history.close()
    assert [e["n"] for e in AlertHistory(path).recent()] == [3, 1]


def test_records_that_cannot_load_are_skipped_with_one_warning(tmp_path, caplog):
    path = tmp_path / "alerts.jsonl"
    deep = '{"pathname": ' + "[" * 5000 + "]" * 5000 + "}"
    path.write_text(
        "\n".join(['{"n": 1}', "[1, 2]", "\xff\xfe", deep, '{"received": "soon"}', '{"n": 2}'])
        + "\n"
    )
    assert [e["n"] for e in AlertHistory(path).recent()] == [2, 1]
    assert caplog.text.count("skipped 4 record(s)") == 1
    caplog.clear()
    AlertHistory(path)  # rewritten: nothing to warn about the second time
    assert "skipped" not in caplog.text


def test_year_1_and_foreign_urls_are_corrected_on_load(tmp_path):
    path = tmp_path / "alerts.jsonl"
    received = 1_800_000_000.0
    records = [
        {"received": received, "pathname": "/app/x.py", "time": "0001-01-01T00:00:00Z"},
        {"received": received, "pathname": "/app/y.py", "url": "file:///etc/passwd"},
        {"received": received, "pathname": "/app/z.py", "url": "http://127.0.0.1:5601/app"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    z, y, x = AlertHistory(path, url_prefixes=["http://127.0.0.1:5601"]).recent()
    assert x["time"] == received and x["extra"]["time_raw"] == "0001-01-01T00:00:00Z"
    assert "url" not in y and y["extra"]["url_rejected"] == "file:///etc/passwd"
    assert z["url"] == "http://127.0.0.1:5601/app"


def test_clear(tmp_path):
    history = AlertHistory(tmp_path / "h.jsonl")
    history.append({"n": 1})
    history.clear()
    history.append({"n": 2})
    history.close()
    assert AlertHistory(tmp_path / "h.jsonl").recent() == [{"n": 2}]


def test_values_orjson_cannot_write_are_still_kept(tmp_path):
    history = AlertHistory(tmp_path / "h.jsonl")
    history.append({"n": 2**70, "obj": object()})
    history.close()
    [entry] = AlertHistory(tmp_path / "h.jsonl").recent()
    assert entry["n"] == 2**70


def test_a_read_only_reader_never_rewrites_the_file_under_a_listener(tmp_path):
    # `logtray alerts` beside a running listener: a torn line and a URL outside the allowed
    # prefixes would make a writer compact the file; the reader must leave it as it is.
    path = tmp_path / "alerts.jsonl"
    good = {"received": 1.0, "pathname": "/a.py", "url": "http://k:5601/x"}
    path.write_text(json.dumps(good) + "\n" + '{"received": 2.0, "pathn')
    before = (path.stat().st_ino, path.read_bytes())
    history = AlertHistory(path, 10, ("http://k:5601",), read_only=True)
    assert [e["pathname"] for e in history.recent()] == ["/a.py"]
    assert history.recent()[0]["url"] == "http://k:5601/x"
    history.close()
    assert (path.stat().st_ino, path.read_bytes()) == before
    with pytest.raises(RuntimeError, match="read-only"):
        AlertHistory(path, 10, read_only=True).append({"received": 3.0})


def test_a_flood_cannot_evict_the_others_records(tmp_path):
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path, limit=100)
    history.append({"n": "real"})
    for i in range(5000):
        history.append({"n": i, "flood": "/app/f_#.py"})
    history.append({"n": "after"})
    kept = [e["n"] for e in history.recent()]
    assert kept[0] == "after" and "real" in kept and len(kept) == 2 + 50
    assert kept[1:51] == list(range(4999, 4949, -1))  # the flood's newest half of the limit
    history.close()
    assert [e["n"] for e in AlertHistory(path, limit=100).recent()] == kept  # after a restart


ODD_CHARACTERS = "a\u2028b\u2029c\x85d\x1ce\x1df\x1eg\x0bh\x0ci\rj\u0000k"


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_records_round_trip_whatever_characters_they_hold(text):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alerts.jsonl"
        history = AlertHistory(path, limit=10)
        history.append({"received": 1.0, "message": text, "pathname": ODD_CHARACTERS})
        history.close()
        [entry] = AlertHistory(path, limit=10).recent()
        assert entry["message"] == text and entry["pathname"] == ODD_CHARACTERS


def test_a_record_with_line_separators_survives_a_restart_and_a_compaction(tmp_path):
    path = tmp_path / "alerts.jsonl"
    history = AlertHistory(path, limit=2)
    for i in range(5):  # compacted on the way
        history.append({"n": i, "message": ODD_CHARACTERS})
    history.close()
    reopened = AlertHistory(path, limit=2)
    assert [(e["n"], e["message"]) for e in reopened.recent()] == [
        (4, ODD_CHARACTERS),
        (3, ODD_CHARACTERS),
    ]


def _in_time(make, seconds=10.0):
    """make() in a thread; fails instead of hanging when it blocks."""
    result = []
    thread = threading.Thread(target=lambda: result.append(make()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"blocked for more than {seconds} s"
    return result[0]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_history_path_that_is_no_file_keeps_alerts_in_memory_and_says_so_once(
    tmp_path, kind, caplog
):
    path = tmp_path / "alerts.jsonl"
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    history = _in_time(lambda: AlertHistory(path, limit=10))
    for i in range(3):
        history.append({"n": i})
    history.flush()
    history.close()
    assert [e["n"] for e in history.recent()] == [2, 1, 0]
    assert history.problem and str(path) in history.problem and "in memory" in history.problem
    assert caplog.text.count("alert history") == 1
    reader = _in_time(lambda: AlertHistory(path, read_only=True))
    assert reader.failure and reader.recent() == []


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs of our own (real ENOSPC and EROFS), unmounted afterwards."""
    need(os.geteuid() == 0 and shutil.which("mount") is not None, "needs root to mount a tmpfs")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    need(done.returncode == 0, f"cannot mount a tmpfs: {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_keeps_alerts_in_memory_and_says_so_once(small_disk, caplog):
    path = small_disk / "alerts.jsonl"
    history = AlertHistory(path, limit=1000)
    for i in range(400):  # ~100 KB: more than the disk holds
        history.append({"n": i, "message": "x" * 200})
        history.flush()
    history.close()
    assert history.problem and "No space left" in history.problem
    assert len(history) == 400 and history.recent(1)[0]["n"] == 399
    assert caplog.text.count("alert history") == 1


def test_a_read_only_file_system_keeps_alerts_in_memory(small_disk):
    path = small_disk / "alerts.jsonl"
    history = AlertHistory(path)
    history.append({"n": 1})
    history.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    history = AlertHistory(path)
    history.append({"n": 2})
    assert history.problem and "Read-only file system" in history.problem
    assert [e["n"] for e in history.recent()] == [2, 1]


def test_the_history_file_and_its_folder_are_private(tmp_path):
    path = tmp_path / "data" / "alerts.jsonl"
    history = AlertHistory(path, limit=2)
    for i in range(5):  # compacted: the rewritten file too
        history.append({"n": i})
    history.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
