"""The tray app under a real X server with a real tray host (trayer), D-Bus and dunst.

Menu items are chosen with the keyboard; their effects are observed where they really land:
the browser (a logging BROWSER script), D-Bus Notify calls, the history file, the autostart
entry on disk, and the icon's own pixels. Screenshots are kept in test-artifacts/tray/.
"""

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, need
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import Running, logtray
from tests.support.tray import TrayIcon
from tray.icon import STATUS_COLOURS
from tray.paths import history_file
from tray.state import AppState, RecentAlert

pytestmark = pytest.mark.desktop
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "tray"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)} (see .ci/run)")
    try:
        import gi  # noqa: F401
    except ImportError:
        need(False, "PyGObject missing: pip install -e '.[gtk]'")
    session = start_desktop(tmp_path_factory.mktemp("tray-desktop"), tray_host=True)
    yield session
    session.stop()


@pytest.fixture
def tray(desktop, tmp_path):
    """A running `logtray` (no arguments: the tray app) with a docker-less stack config."""
    desktop.reset()
    port = str(free_port())
    env = {
        **os.environ,
        **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER")},
        "NO_AT_BRIDGE": "1",
        "LOGTRAY_LISTENER_PORT": port,
        "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        # No Docker engine for these tests: the menu says why Start is disabled.
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
    }
    app = Running(env=env)
    app.wait_stderr("listening on")
    icon = TrayIcon(env, ARTIFACTS)
    icon.find()
    icon.wait_phase("unavailable (Docker")
    yield app, icon, env, port
    assert app.stop() == 0


def base_state(**changes):
    return AppState(**{"phase": "unavailable", "docker_problem": "x", **changes})


def test_icon_appears_menu_opens_and_open_kibana_opens_the_browser(desktop, tray):
    _app, icon, _env, _port = tray
    icon.wait_colour(STATUS_COLOURS["stopped"], timeout=10)
    icon.image("icon-stopped")
    icon.open_menu()
    icon.screenshot("menu-docker-unavailable")
    icon.xdotool("key", "Escape")
    icon.choose(base_state(), lambda e: e.action == "kibana.open")
    opened = desktop.wait_for(lambda: desktop.browser_log.read_text().strip(), what="browser")
    assert opened == "http://127.0.0.1:5601/app/discover#/"


def test_recent_alert_opens_its_discover_link_and_badge_shows(desktop, tray):
    _app, icon, env, port = tray
    logtray("send", "--port", port, "FOUND PROBLEM IN /app/orders.py:7", env=env)
    desktop.wait_for(lambda: desktop.notify_calls(), what="the notification")
    time.sleep(0.6)  # the tray redraws at most every 0.3 s
    badge = icon.image("icon-alert-badge").getpixel((icon.image().width - 4, 4))
    assert badge[0] > 180 and badge[1] < 110  # the red badge
    state = base_state(recent=(RecentAlert(0, "x", 1, "u"),), unseen=1)
    icon.choose(state, lambda e: e.text.startswith("Recent alerts"), submenu_steps=1)
    opened = desktop.wait_for(lambda: desktop.browser_log.read_text().strip(), what="browser")
    assert "pathname:%22/app/orders.py%22" in opened


def test_snooze_holds_notifications_but_keeps_history(desktop, tray):
    _app, icon, env, port = tray
    icon.choose(base_state(), lambda e: e.action == "snooze:900")
    icon.wait_colour(STATUS_COLOURS["snoozed"], timeout=10)
    icon.image("icon-snoozed")
    before = len(desktop.notify_calls())
    logtray("send", "--port", port, "FOUND PROBLEM IN /app/quiet.py:1", env=env)
    desktop.wait_for(
        lambda: history_file().exists() and "/app/quiet.py" in history_file().read_text(),
        what="the alert in the history",
    )
    time.sleep(1.0)
    assert len(desktop.notify_calls()) == before  # nothing popped up
    entry = json.loads(history_file().read_text().splitlines()[-1])
    assert entry["pathname"] == "/app/quiet.py" and entry["quiet"] is True


def test_start_at_login_writes_and_removes_the_autostart_entry(desktop, tray):
    _app, icon, _env, _port = tray
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "logtray.desktop"
    assert not entry.exists()
    icon.choose(base_state(), lambda e: e.action == "autostart.toggle")
    desktop.wait_for(entry.exists, what="the autostart entry")
    text = entry.read_text()
    assert "Exec=" in text and "-m tray" in text
    icon.open_menu()
    icon.screenshot("menu-start-at-login-checked")
    icon.xdotool("key", "Escape")
    icon.choose(base_state(autostart=True), lambda e: e.action == "autostart.toggle")
    desktop.wait_for(lambda: not entry.exists(), what="the entry to be removed")


def test_docker_unavailable_is_said_in_the_menu_and_quit_works(desktop, tray):
    from tray.menu import build_menu

    app, icon, _env, _port = tray
    time.sleep(0.5)
    first = build_menu(base_state(docker_problem="Docker is not running"))[0]
    assert first.enabled is False and first.text.startswith("Start stack (full): ")
    icon.choose(base_state(), lambda e: e.action == "quit")
    assert app.proc.wait(timeout=20) == 0


def test_no_tray_host_runs_headless_with_a_clear_message(tmp_path):
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)}")
    bare = start_desktop(tmp_path / "d", tray_host=False)
    try:
        env = {
            **os.environ,
            **{k: bare.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS")},
            "LOGTRAY_LISTENER_PORT": str(free_port()),
            "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        }
        app = Running("tray", env=env)
        try:
            line = app.wait_stderr("cannot show a tray icon")
            assert "no system tray" in line
            app.wait_stderr("listening on")
        finally:
            assert app.stop() == 0
    finally:
        bare.stop()
