"""Where an alert's errors are, in every shape: file:line or "<service> · <template>", the
error's type and the first frame of the user's own code, from the real loggers' records
(tests/shapes/) through the embedded engine to the popup's text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.pipeline.frames import Frame
from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.evidence import MAX_TEXT, Evidence, parse_evidence, parse_frame
from logtray.tray.alerts.policy import AlertPolicy, caught_up_notice
from logtray.tray.base.config import AlertsConfig
from tests.pipeline.test_frames import FIXTURE_FRAMES
from tests.pipeline.test_shapes import EXPECTED, errors_three_times


def engine_alert(logger: str) -> Alert:
    """The alert the embedded engine raises for a logger's 12 errors sent 3 times (as the
    shape table feeds it: tests/pipeline/test_shapes.py)."""
    [alert] = errors_three_times(logger)[1]
    return alert


@pytest.mark.parametrize("logger", sorted(EXPECTED))
def test_each_real_logger_s_alert_says_where_what_and_which_own_frame(logger: str):
    alert = engine_alert(logger)
    expected = EXPECTED[logger]
    assert alert.pathname == expected["group"]
    if expected["file"] is None:
        assert alert.file is None and alert.where() == expected["group"]
    else:
        assert alert.where() == f"{expected['file']}:{expected['line']}"
    assert alert.error_type == expected["error_type"]
    frame = FIXTURE_FRAMES[logger]
    assert (alert.frame and (alert.frame.file, alert.frame.line, alert.frame.function)) == frame
    # Through the wire and back (the listener, the history): the same.
    again = parse_message(json.dumps(alert.to_record()))
    assert again is not None
    assert (again.where(), again.error_type, again.frame) == (
        alert.where(),
        alert.error_type,
        alert.frame,
    )


def test_the_popup_of_a_group_without_a_call_site():
    alert = engine_alert("node-pino")
    [notice] = AlertPolicy(AlertsConfig(), lambda alert, now: None).on_alert(
        alert, alert.time or 0.0
    )
    assert notice.title == "payments · payment <n> failed — 26 errors in 10 s"
    assert notice.body.splitlines() == [
        "payment 4711 failed",
        "PaymentTimeoutError at payments.js:16 in processPayment",
    ]


def test_the_popup_of_a_file_and_line():
    alert = engine_alert("python-logtray")
    [notice] = AlertPolicy(AlertsConfig(), lambda alert, now: None).on_alert(
        alert, alert.time or 0.0
    )
    assert notice.title == "py_logtray.py:32 — 26 errors in 10 s"
    assert notice.body.splitlines()[1] == (
        "payments.PaymentTimeoutError at py_logtray.py:23 in process_payment"
    )


def test_go_and_rust_errors_without_type_or_stack_say_what_they_know():
    zap = engine_alert("go-zap")
    assert zap.detail() == "at payments.go:23 in main.main"
    assert engine_alert("rust-tracing").detail() == ""
    assert engine_alert("go-slog").where() == "/srv/app/go-slog/payments.go:20"


def test_a_group_s_slashes_are_the_message_s_not_a_path():
    alert = Alert(pathname="api · GET /orders/<n> failed", count=30, window_s=10)
    assert alert.file is None and alert.short_name == "api · GET /orders/<n> failed"
    assert alert.headline() == "api · GET /orders/<n> failed — 30 errors in 10 s"
    assert Alert(pathname="/srv/app/orders.py", lineno=3).where() == "/srv/app/orders.py:3"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("java.net.SocketTimeoutException: Read timed out", "java.net.SocketTimeoutException"),
        ("*errors.errorString: gateway did not answer", "*errors.errorString"),
        ("PaymentTimeoutError", "PaymentTimeoutError"),
        ("gateway did not answer: payment 4711", None),
        ("/usr/lib/go-1.23/src/runtime/proc.go:272", None),
    ],
)
def test_riemann_s_error_line_gives_the_type(line: str, kind: str | None):
    # riemann.config sends the error line ("Type: message") but not the type on its own.
    assert Alert(pathname="/a.py", evidence=Evidence(traceback=line)).error_type == kind


def test_a_sender_s_frame_is_bounded_and_a_path_with_controls_is_refused():
    assert parse_frame({"file": "/srv/app/a\n.py", "line": 3}) is None
    assert parse_frame({"file": "  ", "line": 3}) is None
    frame = parse_frame({"file": "x" * 9000, "line": -1, "function": "f\x1b[31m" * 100})
    assert frame is not None and len(frame.file) == 500 and frame.line is None
    assert (
        frame.function is not None and len(frame.function) <= 200 and "\x1b" not in frame.function
    )
    evidence = parse_evidence({"error_type": "E" * 900, "frame": {"file": "/a.js", "line": 2}})
    assert evidence is not None and evidence.error_type == "E" * 200
    assert evidence.frame == Frame("/a.js", 2, None, "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "file": st.text(max_size=600) | json_values,
            "line": json_values,
            "function": st.text(max_size=400) | json_values,
            "runtime": json_values,
        },
    ),
    st.text(max_size=300) | json_values,
    st.text(max_size=300),
)
def test_any_frame_and_type_a_sender_writes_stays_bounded(frame, kind, pathname):
    evidence = parse_evidence({"frame": frame, "error_type": kind, "traceback": "E: x"})
    alert = Alert(pathname=pathname or None, evidence=evidence)
    assert len(alert.detail()) <= 200 and "\n" not in alert.detail()
    assert alert.error_type is None or len(alert.error_type) <= MAX_TEXT
    if alert.frame is not None:
        assert alert.frame.file and len(alert.frame.file) <= 500
        assert not any(ord(c) < 0x20 for c in alert.frame.file)
    assert isinstance(alert.where(), str) and isinstance(alert.headline(), str)


def test_summaries_name_a_group_whole():
    group = "api · GET /orders/list failed"
    alerts = [Alert(pathname=group, time=100.0), Alert(pathname="/srv/app/pay.py", time=101.0)]
    notice = caught_up_notice(alerts, 3600, 0, None)
    assert "api · GET /orders/list failed" in notice.body and "pay.py" in notice.body
