"""The popup's actions for real (issue 11): `logtray listen` -> dunst; "Open in editor" starts
the configured editor at the line; without Kibana a click shows the errors."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.support.desktop import desktop_fixture
from tests.support.processes import logtray
from tests.test_alert_where import engine_alert
from tests.test_desktop_notifications import start_listener

pytestmark = pytest.mark.desktop

EVIDENCE = {
    "messages": [{"message": "card declined: <b>insufficient funds</b>", "count": 40}],
    "lines": [17],
    "first": 1795600790.0,
    "last": 1795600800.0,
}


@pytest.fixture
def desktop(tmp_path):
    yield from desktop_fixture(tmp_path / "desktop")


@pytest.fixture
def env(desktop, tmp_path: Path) -> dict[str, str]:
    source = tmp_path / "src" / "billing"
    source.mkdir(parents=True)
    (source / "pay.py").write_text("def pay():\n    ...\n")
    (source / "refund.py").write_text("def refund():\n    ...\n")
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path / "editor.log"}"\n')
    editor.chmod(0o755)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[editor]\npaths = {{"/app" = {json.dumps(str(source))}}}\n'
        f"command = {json.dumps(str(editor))}\n"
        # Nothing listens there: Kibana is not running.
        '[kibana]\nurl = "http://127.0.0.1:9"\n'
    )
    return desktop.child_env(LOGTRAY_CONFIG=str(config))


def test_a_click_without_kibana_shows_errors_and_open_in_editor(desktop, env, tmp_path: Path):
    listener, port = start_listener(env, "--notifier", "desktop")
    try:
        alert = {"pathname": "/app/pay.py", "count": 40, "window_s": 10, "evidence": EVIDENCE}
        logtray("send", "--port", port, "--json", json.dumps(alert), env=env)
        [call] = desktop.wait_for(desktop.notify_calls, what="a Notify call")
        assert "card declined" in str(call["body"])  # the top message
        assert "Show errors" in call["strings"] and "Open in editor" in call["strings"]
        assert "Open in Kibana" not in call["strings"]
        desktop.wait_displayed()  # dunst acts on the notifications it shows
        desktop.dunstctl("action", "0")  # a click: no Kibana, so the error view
        opened = desktop.wait_for(
            lambda: desktop.browser_log.read_text().strip(), what="the error view"
        )
        page = Path(unquote(urlsplit(opened).path))
        text = page.read_text()
        assert "card declined: &lt;b&gt;insufficient funds&lt;/b&gt;" in text
        assert "Open in editor: <code>" in text and "+17" in text

        desktop.reset()
        before = len(desktop.notify_calls())
        alert = {"pathname": "/app/refund.py", "lineno": 2, "message": "refund failed"}
        logtray("send", "--port", port, "--json", json.dumps(alert), env=env)
        desktop.wait_for(lambda: len(desktop.notify_calls()) > before, what="second Notify")
        desktop.wait_displayed()
        desktop.invoke_action("Open in editor")
        log = tmp_path / "editor.log"
        desktop.wait_for(lambda: log.exists() and log.read_text().count("\n") == 2, what="editor")
    finally:
        listener.stop()
    assert log.read_text().splitlines() == ["+2", str(tmp_path / "src/billing/refund.py")]


@pytest.fixture
def checkout_env(desktop, tmp_path: Path) -> dict[str, str]:
    """[editor] roots naming a checkout that holds the pino service's payments.js."""
    root = tmp_path / "src" / "shop"
    root.mkdir(parents=True)
    (root / "payments.js").write_text("// processPayment\n")
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path / "editor.log"}"\n')
    editor.chmod(0o755)
    config = tmp_path / "config.toml"
    config.write_text(
        f"[editor]\nroots = [{json.dumps(str(root))}]\ncommand = {json.dumps(str(editor))}\n"
        '[kibana]\nurl = "http://127.0.0.1:9"\n'
    )
    return desktop.child_env(LOGTRAY_CONFIG=str(config))


def test_a_group_without_a_call_site_shows_its_type_and_opens_the_user_s_own_frame(
    desktop, checkout_env, tmp_path: Path
):
    # The alert the embedded engine raises for pino's real records (tests/shapes/node-pino).
    alert = engine_alert("node-pino").to_record()
    listener, port = start_listener(checkout_env, "--notifier", "desktop")
    try:
        logtray("send", "--port", port, "--json", json.dumps(alert), env=checkout_env)
        [call] = desktop.wait_for(desktop.notify_calls, what="a Notify call")
        assert call["title"] == "payments · payment <n> failed — 26 errors in 10 s"
        assert "PaymentTimeoutError at payments.js:16 in processPayment" in str(call["body"])
        assert "Open in editor" in call["strings"]
        desktop.wait_displayed()
        desktop.invoke_action("Open in editor")
        log = tmp_path / "editor.log"
        desktop.wait_for(lambda: log.exists() and log.read_text().count("\n") == 2, what="editor")
        assert log.read_text().splitlines() == ["+16", str(tmp_path / "src/shop/payments.js")]

        # A group whose errors carry no stack: nothing to open, so no such action.
        desktop.reset()
        before = len(desktop.notify_calls())
        bare = {"pathname": "orders · order <n> rejected", "count": 30, "window_s": 10}
        logtray("send", "--port", port, "--json", json.dumps(bare), env=checkout_env)
        calls = desktop.wait_for(
            lambda: (c := desktop.notify_calls()[before:]) and c, what="second Notify"
        )
        assert calls[0]["title"] == "orders · order <n> rejected — 30 errors in 10 s"
        assert "Show errors" in calls[0]["strings"]
        assert "Open in editor" not in calls[0]["strings"]
    finally:
        listener.stop()
