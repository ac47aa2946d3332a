"""What a sender wrote, as the desktop shows it: one cleaning for every notifier, the menu and
the tooltip (tray/base/text.py)."""

import asyncio
import html
import io
import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.alerts.alert import parse_message
from logtray.tray.alerts.policy import Notice
from logtray.tray.base.text import escape_markup, shown_text
from logtray.tray.delivery.notifiers import notice_text
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.desktop.menu import build_menu
from logtray.tray.desktop.state import AppState, RecentAlert, tooltip

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def acting(char: str) -> bool:
    """A character that changes how the text around it is shown."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI


@given(st.text())
def test_nothing_that_acts_survives_and_nothing_is_lost_silently(text):
    line = shown_text(text)
    assert not any(acting(c) for c in line)
    many = shown_text(text, multiline=True)
    assert not any(acting(c) for c in many if c != "\n")
    # every acting character is still there, as a visible <U+XXXX>
    for char in set(text) - {"\t", "\n"}:
        if acting(char):
            assert f"<U+{ord(char):04X}>" in line


@given(st.text())
def test_markup_escaping_round_trips_and_leaves_no_tag(text):
    escaped = escape_markup(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text


def test_the_bidi_file_name_and_a_terminal_escape_are_visible():
    assert shown_text("/app/bidi\u202egnp.py") == "/app/bidi<U+202E>gnp.py"
    assert shown_text("\x1b[2Jgone\r\nnext\u2028line\tx") == (
        "<U+001B>[2Jgone<U+000D><U+000A>next<U+2028>line x"
    )
    assert shown_text("a\r\nb", multiline=True) == "a\nb"


def test_notice_text_escapes_only_the_body_and_only_for_markup_servers():
    notice = Notice("k", "<b>t</b>\u202e", "<a href='x'>l</a>\n2 alerts", None, 1)
    assert notice_text(notice, body_markup=True) == (
        "<b>t</b><U+202E>",  # the title is never markup
        "&lt;a href='x'&gt;l&lt;/a&gt;\n2 alerts",
    )
    assert notice_text(notice, body_markup=False)[1] == "<a href='x'>l</a>\n2 alerts"


def test_console_notifier_shows_the_same_cleaned_text():
    stream = io.StringIO()
    alert = parse_message('{"pathname": "/app/x\u202egnp.py", "message": "\\u001b[31m"}')
    assert alert is not None
    notice = Notice(alert.key, alert.headline(), alert.body(), None, 1)
    asyncio.run(ConsoleNotifier(stream).show(notice))
    record = json.loads(stream.getvalue())
    assert record["title"] == "Problem in x<U+202E>gnp.py"
    assert record["body"] == "<U+001B>[31m"


def test_menu_and_tooltip_show_sender_text_cleaned():
    state = AppState(
        recent=(RecentAlert(0, "bidi\u202egnp.py:5 \x1b]0;owned\x07", 1, "http://k"),),
        last_error="failed:\u2028second line",
        notices=("history\x00",),
    )
    texts = []

    def walk(entries):
        for entry in entries:
            texts.append(entry.text)
            walk(entry.children)

    walk(build_menu(state))
    assert any("bidi<U+202E>gnp.py:5 <U+001B>]0;owned<U+0007>" in t for t in texts)
    assert not any(acting(c) for t in texts for c in t)
    assert not any(acting(c) for c in tooltip(state))
