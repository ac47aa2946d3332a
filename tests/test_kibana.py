from urllib.parse import unquote

import prison

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.kibana import discover_url, kql_quote
from logtray.tray.base.config import KibanaConfig


def decode(url):
    base, fragment = url.split("#/?", 1)
    parts = dict(part.split("=", 1) for part in fragment.split("&"))
    return base, prison.loads(unquote(parts["_g"])), prison.loads(unquote(parts["_a"]))


def test_discover_url_filters_pathname_level_and_time():
    alert = Alert(pathname='/app/we"ird path.py', level="error")
    base, g, a = decode(discover_url(KibanaConfig(), alert, at=1_700_000_000))
    assert base == "http://127.0.0.1:5601/app/discover"
    assert g == {"time": {"from": "2023-11-14T21:58:20.000Z", "to": "2023-11-14T22:18:20.000Z"}}
    assert a["dataSource"] == {"dataViewId": "program-logs", "type": "dataView"}
    assert a["columns"] == [
        "logtray.level",
        "logtray.group",
        "logtray.line",
        "logtray.message",
        "logtray.error_type",
        "logtray.kind",
    ]
    assert a["query"] == {
        "language": "kuery",
        "query": 'logtray.group:"/app/we\\"ird path.py" and logtray.level:("error" or "fatal")',
    }


def test_summary_link_has_no_pathname_filter():
    _, _, a = decode(discover_url(KibanaConfig(url="http://k:1/"), None, at=0))
    assert a["query"]["query"] == 'logtray.level:("error" or "fatal")'


def test_other_levels_are_matched_in_the_normalized_spelling():
    alert = Alert(pathname="payments \u00b7 payment <n> failed", level="WARNING")
    _, _, a = decode(discover_url(KibanaConfig(), alert, at=0))
    assert (
        a["query"]["query"]
        == 'logtray.group:"payments \u00b7 payment <n> failed" and logtray.level:"warn"'
    )


def test_an_error_kinds_link_filters_on_its_kind_not_its_file():
    alert = Alert(
        pathname="/srv/app/payments.js", level="error", kind="new", kind_id="0a3a1edba140"
    )
    _, _, a = decode(discover_url(KibanaConfig(), alert, at=0))
    assert (
        a["query"]["query"] == 'logtray.kind:"0a3a1edba140" and logtray.level:("error" or "fatal")'
    )


def test_kql_quote_escapes_backslashes():
    assert kql_quote("C:\\app\\a.py") == '"C:\\\\app\\\\a.py"'
