import json

from hypothesis import given
from hypothesis import strategies as st

from tray.alert import Alert, is_junk, parse_message, parse_time


def test_original_riemann_line_gives_pathname_and_line():
    alert = parse_message("FOUND PROBLEM IN /app/payments.py:42")
    assert alert.pathname == "/app/payments.py"
    assert alert.lineno == 42
    assert alert.key == "/app/payments.py"
    assert alert.headline() == "Problem in payments.py:42"


def test_json_alert_fields_and_extras_are_kept():
    alert = parse_message(
        json.dumps(
            {
                "pathname": "/app/payments.py",
                "count": 312,
                "window_s": 10,
                "threshold": 25,
                "level": "error",
                "time": "2026-11-25T10:00:00Z",
                "token": "t",
                "team": "billing",
            }
        )
    )
    assert alert.headline() == "payments.py — 312 errors in 10 s"
    assert alert.time == 1795600800.0
    assert alert.extra == {"team": "billing"}
    assert "token" not in alert.to_record()
    assert Alert.from_record(alert.to_record()).to_record() == alert.to_record()


def test_json_that_is_not_an_object_is_text():
    assert parse_message("[1, 2]").message == "[1, 2]"
    assert parse_message('"just a string"').message == '"just a string"'
    assert parse_message("{not json").message == "{not json"


def test_plain_text_becomes_the_body_with_the_original_title():
    alert = parse_message("disk almost full")
    assert alert.headline() == "Received Message"
    assert alert.body() == "disk almost full"


def test_wrongly_typed_fields_do_not_break_parsing():
    alert = parse_message('{"pathname": 5, "count": "many", "lineno": true, "time": "soon"}')
    assert alert.pathname == "5"
    assert alert.count is None and alert.lineno is None and alert.time is None


def test_time_accepts_seconds_milliseconds_and_iso():
    assert parse_time(1_700_000_000) == 1_700_000_000
    assert parse_time(1_700_000_000_000) == 1_700_000_000
    assert parse_time("2023-11-14T22:13:20+00:00") == 1_700_000_000
    assert parse_time(float("nan")) is None


@given(st.text())
def test_any_text_parses(text):
    alert = parse_message(text)
    if alert is None:  # junk: mostly unprintable
        assert is_junk(text.strip())
        return
    assert isinstance(alert.headline(), str)
    assert isinstance(alert.body(), str)
    json.dumps(alert.to_record())


@given(
    st.dictionaries(
        st.sampled_from(["title", "message", "pathname", "lineno", "count", "time", "x"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.lists(st.integers())
        ),
    )
)
def test_any_json_object_parses(obj):
    alert = parse_message(json.dumps(obj))
    assert isinstance(alert.headline(), str)
