"""Real notifications: `logtray listen` talking to dunst on a private D-Bus session bus."""

import json
import os
import socket

import pytest

from tests.conftest import free_port, need
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import Running, logtray

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)} (see .ci/run)")
    session = start_desktop(tmp_path_factory.mktemp("desktop"))
    yield session
    session.stop()


@pytest.fixture
def kibana():
    """A listening socket where Kibana would be: "Open in Kibana" is offered while it answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def desktop_env(desktop, kibana):
    desktop.reset()
    keep = ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER", "NO_AT_BRIDGE", "XDG_RUNTIME_DIR")
    env = {**os.environ, **{k: desktop.env[k] for k in keep}, "LOGTRAY_KIBANA_URL": kibana}
    before = len(desktop.notify_calls())
    yield env, before


def start_listener(env, *extra):
    port = str(free_port())
    proc = Running("listen", "--port", port, "--host", "127.0.0.1", *extra, env=env)
    proc.wait_stderr("listening on")
    return proc, port


def test_original_line_and_json_alert_become_notifications_with_an_action(desktop, desktop_env):
    env, before = desktop_env
    listener, port = start_listener(env, "--notifier", "desktop")
    try:
        assert "notifications: desktop" in listener.wait_stderr("listening on")
        logtray("send", "--port", port, "FOUND PROBLEM IN /app/a.py:12", env=env)
        logtray(
            "send",
            "--port",
            port,
            "--json",
            '{"pathname": "/app/b.py", "count": 31, "window_s": 10, "threshold": 25}',
            env=env,
        )
        calls = desktop.wait_for(
            lambda: (c := desktop.notify_calls()[before:]) and len(c) >= 2 and c,
            what="two Notify calls",
        )
    finally:
        listener.stop()
    by_title = {c["title"]: c for c in calls}
    assert set(by_title) == {"Problem in a.py:12", "b.py — 31 errors in 10 s"}
    assert by_title["b.py — 31 errors in 10 s"]["app"] == "logtray"
    assert "/app/b.py" in by_title["b.py — 31 errors in 10 s"]["body"]
    for call in calls:
        assert "Show errors" in call["strings"]  # the actions' labels
        assert "Open in Kibana" in call["strings"]
        assert "default" in call["strings"]  # a click on the body is an action too
    assert desktop.wait_displayed(2) == 2  # both on screen (dunst shows them a moment later)


def test_coalesced_alerts_replace_one_notification(desktop, desktop_env):
    env, before = desktop_env
    env = {**env, "LOGTRAY_ALERTS_UPDATE_INTERVAL_S": "0"}
    closes_before = desktop.close_calls()
    listener, port = start_listener(env, "--notifier", "desktop")
    try:
        for count in (30, 40, 50):
            logtray(
                "send",
                "--port",
                port,
                "--json",
                f'{{"pathname": "/app/pay.py", "count": {count}, "window_s": 10}}',
                env=env,
            )
            desktop.wait_for(
                lambda c=count: any(
                    x["title"] == f"pay.py — {c} errors in 10 s"
                    for x in desktop.notify_calls()[before:]
                ),
                what=f"notification for {count}",
            )
    finally:
        listener.stop()
    calls = desktop.notify_calls()[before:]
    assert [c["title"] for c in calls] == [f"pay.py — {n} errors in 10 s" for n in (30, 40, 50)]
    assert "3 alerts since" in calls[-1]["body"]
    assert desktop.close_calls() - closes_before == 2
    desktop.wait_for(
        lambda: "Currently displayed: 1" in desktop.dunstctl("count"),
        what="one notification on screen",
    )


def test_open_in_kibana_action_and_click_open_the_discover_url(desktop, desktop_env, kibana):
    env, before = desktop_env
    listener, port = start_listener(env, "--notifier", "desktop")
    try:
        logtray("send", "--port", port, "FOUND PROBLEM IN /app/orders.py:7", env=env)
        desktop.wait_for(lambda: len(desktop.notify_calls()) > before, what="Notify")
        desktop.wait_displayed()  # dunst's menu offers the actions of what it shows
        desktop.invoke_action("Open in Kibana")
        opened = desktop.wait_for(
            lambda: desktop.browser_log.read_text().strip(), what="the browser to be called"
        )
        assert opened.startswith(f"{kibana}/app/discover#/?_g=(time:(from:")
        assert "logtray.group:%22/app/orders.py%22" in opened

        # dunst keeps a notification on screen after a context-menu action; clear the screen
        # so that position 0 is the new one.
        desktop.reset()
        logtray("send", "--port", port, "FOUND PROBLEM IN /app/users.py:9", env=env)
        desktop.wait_for(lambda: len(desktop.notify_calls()) > before + 1, what="second Notify")
        desktop.wait_displayed()
        desktop.dunstctl("action", "0")  # a click on the newest notification
        clicked = desktop.wait_for(
            lambda: desktop.browser_log.read_text().strip(), what="the browser after a click"
        )
        assert "logtray.group:%22/app/users.py%22" in clicked
    finally:
        listener.stop()


def test_without_a_notification_server_it_says_so_and_prints(tmp_path):
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)}")
    bare = start_desktop(tmp_path / "bare", notification_server=False)
    try:
        env = {
            **os.environ,
            "DISPLAY": bare.env["DISPLAY"],
            "DBUS_SESSION_BUS_ADDRESS": bare.env["DBUS_SESSION_BUS_ADDRESS"],
        }
        listener, port = start_listener(env)
        try:
            assert "notifications: console" in listener.wait_stderr("listening on")
            assert any("no notification server" in line for line in listener.stderr_lines)
            logtray("send", "--port", port, "still delivered", env=env)
            [notice] = listener.json_lines(1)
            assert notice["body"] == "still delivered"
        finally:
            listener.stop()
    finally:
        bare.stop()


def test_plyer_fallback_reaches_the_notification_server(desktop, desktop_env):
    env, before = desktop_env
    listener, port = start_listener(env, "--notifier", "plyer")
    try:
        assert "notifications: plyer" in listener.wait_stderr("listening on")
        logtray("send", "--port", port, "FOUND PROBLEM IN /app/legacy.py:5", env=env)
        [call] = desktop.wait_for(
            lambda: desktop.notify_calls()[before:], what="a Notify call from plyer"
        )
    finally:
        listener.stop()
    assert call["title"] == "Problem in legacy.py:5"
    # plyer has no actions: the Kibana link is in the text instead
    assert "/app/discover#/" in str(call["body"])


HOSTILE_MESSAGE = (
    '<b>bold</b> <a href="http://evil.example/">click me</a> <img src="/etc/x.png" alt="IMG"/>'
    " \x1b[31mred\x1b[0m"
)


@pytest.mark.parametrize("backend", ["desktop", "plyer"])
def test_sender_markup_and_bidi_reach_dunst_as_text(desktop, desktop_env, backend):
    # dunst renders the body's markup (markup = full, as Debian ships it): a sender's <b>,
    # <a href> and <img> must arrive escaped, and a bidi override must be visible, not act.
    env, before = desktop_env
    listener, port = start_listener(env, "--notifier", backend)
    try:
        alert = {"pathname": "/app/bidi\u202egnp.py", "lineno": 5, "message": HOSTILE_MESSAGE}
        logtray("send", "--port", port, "--json", json.dumps(alert), env=env)
        [call] = desktop.wait_for(lambda: desktop.notify_calls()[before:], what="a Notify call")
    finally:
        listener.stop()
    assert call["title"] == "Problem in bidi<U+202E>gnp.py:5"
    shown = next(s for s in desktop.shown() if s["summary"].startswith("Problem in bidi"))
    assert shown["summary"] == "Problem in bidi<U+202E>gnp.py:5"  # visible, not acting
    # what dunst received: the tags escaped, the terminal escape visible
    assert shown["body"].startswith("&lt;b&gt;bold&lt;/b&gt; &lt;a href=")
    assert "<b>" not in shown["body"] and "<a " not in shown["body"]
    assert "&lt;U+001B&gt;[31mred" in shown["body"]
    # what dunst renders: the tags as text; no bold, no link, no image placeholder
    assert "&lt;b&gt;bold&lt;/b&gt;" in shown["message"] and "click me" in shown["message"]
    assert "<b>bold" not in shown["message"] and "[image]" not in shown["message"]


def test_plyer_never_lets_sender_text_become_a_notify_send_option(desktop, desktop_env):
    env, before = desktop_env
    listener, port = start_listener(env, "--notifier", "plyer")
    try:
        alert = {"title": "--urgency=critical", "message": "-a evil"}
        logtray("send", "--port", port, "--json", json.dumps(alert), env=env)
        desktop.wait_for(lambda: desktop.notify_calls()[before:], what="a Notify call")
    finally:
        listener.stop()
    shown = desktop.shown()[0]
    assert shown["summary"].strip() == "--urgency=critical"
    assert shown["body"].strip().startswith("-a evil") and shown["appname"] == "logtray"
