"""The error view page: everything a sender can put in an alert stays text; links are checked."""

from __future__ import annotations

import dataclasses
import html
import json
import os
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.evidence import ErrorRecord, Evidence
from logtray.tray.base.config import Config, EditorConfig
from logtray.tray.delivery import error_view
from logtray.tray.delivery.actions import write_error_view
from logtray.tray.delivery.editor import EditorTarget

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "tr", "th",
    "td", "pre", "code", "span", "a",
}  # fmt: skip
ALLOWED_ATTRS = {"lang", "charset", "http-equiv", "content", "name", "class", "href", "rel"}

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</style><script>x()</script>",
    "</title><a href='javascript:alert(1)'>",
    "<!--",
    "\x00\x1b[31m\u202emirror",
    "&lt;already escaped&gt;",
    "{{7*7}} ${7*7}",
]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def assert_inert(page: str, *, hrefs: set[str]) -> None:
    tags = parse(page)
    for tag, attrs in tags.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ALLOWED_ATTRS, (tag, name)
            if name == "href":
                assert value in hrefs, value
    assert page.count("<script") == 0
    assert page.count("Content-Security-Policy") == 1 and "default-src 'none'" in page


def hostile_alert(text: str) -> Alert:
    return Alert(
        title=None,
        message=text,
        pathname=f"/app/{text}.py",
        lineno=7,
        count=26,
        window_s=10.0,
        threshold=25.0,
        service=text,
        time=1795600800.0,
        url=f"javascript:alert('{text}')",
        evidence=Evidence(
            messages=((text, 20), ("second " + text, 6)),
            lines=(7, 9),
            first=1795600790.0,
            last=1795600800.0,
            traceback=text,
        ),
    )


def records(text: str) -> list[ErrorRecord]:
    return [
        ErrorRecord(1795600790.0 + i, "error", f"{text} {i}", i, f"Traceback\n  {text}\nE: {text}")
        for i in range(3)
    ]


def test_hostile_content_stays_text():
    kibana = "http://127.0.0.1:5601/app/discover#/?_g=(a:'<b>')"
    for text in HOSTILE:
        page = error_view.render(
            hostile_alert(text), records(text), kibana_url=kibana, editor=f"no mapping {text}"
        )
        assert_inert(page, hrefs={kibana})
        assert (
            html.escape(text.replace("\x00", " ")[:40], quote=True)[:20] in page or "\x00" in text
        )


def test_page_lists_what_failed_and_links():
    alert = hostile_alert("database connection refused")
    target = EditorTarget(Path("/src/app/x.py"), 7, url="vscode://file/src/app/x.py:7")
    page = error_view.render(
        alert, records("refused"), kibana_url="http://127.0.0.1:5601/app/discover", editor=target
    )
    text = " ".join(parse(page).text)
    assert "database connection refused" in text and "second database connection refused" in text
    assert "20" in text and "Last 3 error records" in text and "E: refused" in text
    assert_inert(page, hrefs={"http://127.0.0.1:5601/app/discover", target.url or ""})


def test_sender_links_other_than_http_are_never_links():
    for url in (
        "javascript:alert(1)",
        "data:text/html,<script>",
        "http://",
        "http://a b",
        "file:///etc/passwd",
        " http://x",
        "vbscript:x",
        "http://x\n.y",
    ):
        assert error_view.safe_http_url(url) is None, url
    assert error_view.safe_http_url("https://kibana.team.example/app") is not None


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_anywhere_stays_text(text):
    page = error_view.render(hostile_alert(text), records(text), kibana_url=None, editor=text)
    assert_inert(page, hrefs=set())


def test_write_keeps_the_newest_pages(tmp_path):
    directory = tmp_path / "errors"
    for i in range(error_view.KEEP_PAGES + 5):
        path = error_view.write(f"page {i}", f"alert-{i:03d}.html", directory)
        os.utime(path, (1000 + i, 1000 + i))
    kept = sorted(p.name for p in directory.glob("alert-*.html"))
    assert len(kept) == error_view.KEEP_PAGES and kept[0] == "alert-005.html"
    assert not list(directory.glob("*.tmp"))


def test_write_error_view_goes_to_the_user_cache_dir(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "payments.py").write_text("x = 1\n")
    config = Config(
        editor=EditorConfig(paths={"/app": str(source)}, url="vscode://file/{path}:{line}")
    )
    alert = dataclasses.replace(hostile_alert("boom"), pathname="/app/payments.py")
    path = write_error_view(config, alert, records("boom"), kibana_running=False, now=1795600801.0)
    assert path.is_relative_to(tmp_path / "xdg_cache_home") and path.suffix == ".html"
    page = path.read_text()
    assert f"vscode://file{source}/payments.py:7" in page
    assert "Open in Kibana" not in page  # not running


def test_error_pages_and_their_folder_are_private(tmp_path):
    import stat

    directory = tmp_path / "errors"
    path = error_view.write("page", "alert-1.html", directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_the_records_are_grouped_by_their_error_kind():
    from logtray.tray.alerts.evidence import records as decode
    from tests.kind_cases import RECORDS

    raws = [
        json.dumps(RECORDS[name]).encode()
        for name in ("node-pino", "node-winston", "masked-message", "node-bunyan")
    ]
    kept = decode([(1795600790.0 + i, raw) for i, raw in enumerate(raws)])
    page = error_view.render(hostile_alert("x"), kept)
    text = " ".join(parse(page).text)
    assert "Kinds of error" in text
    pino = text.index("PaymentTimeoutError at payments.js:16")
    refund = text.index('refund for user "<*>" order <uuid>')
    assert pino < refund  # 3 records of that kind, 1 of the other: most frequent first
    assert_inert(page, hrefs=set())
