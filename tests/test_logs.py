"""Quiet logs: one line per record on the terminal, rate-limited warnings per key."""

import logging

from logtray.tray.base.logs import OneLineFormatter, Throttled


def test_terminal_line_has_no_traceback():
    try:
        raise RecursionError("too deep")
    except RecursionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", ("a",), None)
        import sys

        record.exc_info = sys.exc_info()
    file_text = logging.Formatter().format(record)
    terminal = OneLineFormatter("logtray: %(message)s").format(record)
    assert "Traceback" in file_text  # the file handler still gets the details
    assert "\n" not in terminal and "Traceback" not in terminal
    assert terminal.startswith("logtray: failed: a (RecursionError: too deep; details in ")
    assert "Traceback" in logging.Formatter().format(record)  # the record was left intact


def test_repeats_are_counted_and_summarised(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("logtray.tray.base.logs.time.monotonic", lambda: clock[0])
    throttled = Throttled(logging.getLogger("t"), interval_s=60, max_keys=2)
    with caplog.at_level(logging.WARNING):
        for _ in range(20_000):
            throttled.warning("peer:10.0.0.2", "oversize from %s", "10.0.0.2")
        throttled.warning("peer:10.0.0.3", "oversize from %s", "10.0.0.3")
        clock[0] += 61
        throttled.warning("peer:10.0.0.2", "oversize from %s", "10.0.0.2")
    assert caplog.messages == [
        "oversize from 10.0.0.2",
        "oversize from 10.0.0.3",
        "oversize from 10.0.0.2 (19999 more like this in the last 60 s)",
    ]
    for n in range(100):
        throttled.warning(f"peer:{n}", "x")
    assert len(throttled._keys) == 2


def test_stack_saved_logs_live_beside_the_log_file():
    # stack/ stands alone, so it finds the log folder itself: it must be the tray's.
    from logtray.stack.saved_logs import default_dir
    from logtray.tray.base.paths import log_dir

    assert default_dir() == log_dir() / "stack"
