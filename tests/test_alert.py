import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.alerts.alert import Alert, is_junk, parse_message, parse_time


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


KIBANA = ("http://127.0.0.1:5601",)


def test_popup_text_title_and_body_never_repeat():
    full = Alert(pathname="/app/payments.py", lineno=42, count=312, window_s=10)
    assert full.headline() == "payments.py:42 — 312 errors in 10 s"
    assert full.body() == "/app/payments.py:42"
    with_message = Alert(pathname="/app/p.py", count=1, message="  KeyError: 'id'\n  at …  ")
    assert with_message.headline() == "p.py — 1 error"
    assert with_message.body() == "KeyError: 'id'"
    assert Alert(count=5, window_s=2.5).headline() == "5 errors in 2.5 s"
    assert Alert(title="disk full", message="disk full").body() == ""
    assert len(Alert(message="x" * 5000).body()) <= 200


def test_sender_url_is_kept_only_under_kibana():
    ok = '{"pathname": "/a.py", "url": "http://127.0.0.1:5601/app/discover#/"}'
    assert parse_message(ok, KIBANA).url == "http://127.0.0.1:5601/app/discover#/"
    for bad in ["file:///etc/passwd", "--gpu-launcher=xcalc --", "javascript:x", "ssh://h"]:
        alert = parse_message(json.dumps({"pathname": "/a.py", "url": bad}), KIBANA)
        assert alert.url is None and alert.extra["url_rejected"] == bad
    # without allowed prefixes (e.g. a record read back by a caller without config): dropped
    assert parse_message(ok).url is None


def test_deep_json_is_junk_and_shallow_nesting_is_fine():
    deep = '{"pathname": ' + "[" * 1000 + "]" * 1000 + "}"
    assert parse_message(deep) is None
    assert parse_message('{"pathname": "/a.py", "x": [[[1]]], "s": "[[[[[[[[[[[[[[[[[["}')
    brackets_in_strings = json.dumps({"pathname": "/a.py", "note": "[" * 100})
    assert parse_message(brackets_in_strings).pathname == "/a.py"


def test_junk_is_none_and_text_with_a_few_bad_bytes_is_text():
    assert parse_message(bytes(range(256)).decode("utf-8", "replace")) is None
    assert parse_message("\x00\x01\x02\x03 abc") is None
    assert parse_message("caf\ufffd is closed").message == "caf\ufffd is closed"


def test_fields_and_extras_are_bounded():
    alert = parse_message(json.dumps({"pathname": "p" * 70_000, "blob": "b" * 70_000}))
    assert len(alert.pathname) <= 1000
    assert "blob" not in alert.extra and len(json.dumps(alert.to_record())) < 5000
    assert len(parse_message("m" * 70_000).message) <= 1000


def test_times_far_from_receipt_are_replaced_and_kept_raw():
    now = 1_800_000_000.0
    for raw in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"]:
        alert = parse_message(json.dumps({"pathname": "/x.py", "time": raw})).with_sane_time(now)
        assert alert.time in (now, None)
    alert = Alert(pathname="/x.py", time=1.0).with_sane_time(now)
    assert alert.time == now and alert.extra["time_raw"] == 1.0
    assert Alert(time=now - 60).with_sane_time(now).time == now - 60


printable_or_not = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=40,
    ).map(lambda value: json.dumps({"pathname": "/p.py", "time": value, "url": value, "x": value})),
)


@given(printable_or_not, st.floats(0, 4e9))
def test_any_message_parses_to_a_bounded_alert_or_junk(text, now):
    alert = parse_message(text, KIBANA)
    if alert is None:
        return
    alert = alert.with_sane_time(now)
    assert isinstance(alert.headline(), str) and isinstance(alert.body(), str)
    assert alert.headline() != alert.body()
    assert alert.url is None or alert.url.startswith("http://127.0.0.1:5601")
    assert alert.time is None or abs(alert.time - now) <= 86400
    assert len(json.dumps(alert.to_record(), default=str)) < 10_000


def test_numbers_beyond_floats_are_dropped_not_raised():
    # int(float("inf")) raises OverflowError: a parser that is documented never to raise.
    alert = parse_message('{"pathname": "/a.py", "lineno": "inf", "count": "1e999"}')
    assert alert is not None and alert.pathname == "/a.py"
    assert alert.lineno is None and alert.count is None


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "2e308"]
)
def test_numbers_that_overflow_never_turn_a_json_alert_into_text(number):
    text = f'{{"pathname": "/app/pay.py", "lineno": 42, "count": {number}, "x": {number}}}'
    alert = parse_message(text)
    assert (alert.pathname, alert.lineno, alert.count) == ("/app/pay.py", 42, None)
    assert alert.headline() == "Problem in pay.py:42"


def test_lone_surrogates_are_replaced_not_kept():
    alert = parse_message('{"pathname": "/app/a.py", "message": "x\\ud800y", "n": 1e400}')
    assert alert.message == "x?y"


@pytest.mark.parametrize(
    ("field", "value"),
    [("lineno", -5), ("lineno", 0), ("count", -1), ("window_s", -10), ("threshold", -1)],
)
def test_numbers_out_of_range_are_dropped_and_kept_raw(field, value):
    alert = parse_message(json.dumps({"pathname": "/app/a.py", field: value}))
    assert getattr(alert, field) is None and alert.extra[f"{field}_raw"] == str(value)
    assert "-" not in alert.headline()


def test_a_title_never_takes_its_file_name_from_inside_markup():
    alert = Alert(pathname='<a href="/x/evil.py">pay.py</a>', lineno=3)
    assert alert.headline() == 'Problem in <a href="/x/evil.py">pay.py</a>:3'
    assert Alert(pathname="/app/pay.py").short_name == "pay.py"


def test_an_error_kinds_fields_are_checked_and_kept_apart_from_its_file():
    text = (
        '{"title": "New error in payments: E at a.py:3", "pathname": "/app/a.py",'
        ' "service": "payments", "kind": "new", "kind_id": "0a3a1edba140"}'
    )
    alert = parse_message(text)
    assert alert is not None and (alert.kind, alert.kind_id) == ("new", "0a3a1edba140")
    assert alert.key == "kind:new:payments:0a3a1edba140" != "/app/a.py"
    assert Alert.from_record(alert.to_record()) == alert
    bogus = parse_message('{"pathname": "/app/a.py", "kind": "<b>x", "kind_id": "../../etc"}')
    assert bogus is not None and bogus.kind is None and bogus.kind_id is None
    assert bogus.key == "/app/a.py"
