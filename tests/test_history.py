from tray.history import AlertHistory


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
