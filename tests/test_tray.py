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

from logtray.tray.base.paths import history_file
from logtray.tray.desktop.icon import STATUS_COLOURS
from logtray.tray.desktop.menu import build_menu
from logtray.tray.desktop.state import AppState, RecentAlert
from tests.conftest import free_port, need
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import Running, logtray
from tests.support.tray import start_tray, tray_env

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
    # No Docker engine for these tests: the menu says why Start is disabled.
    env = tray_env(desktop, NO_AT_BRIDGE="1", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    app, icon = start_tray(env, ARTIFACTS, "unavailable (Docker")
    yield app, icon, env, env["LOGTRAY_LISTENER_PORT"]
    assert app.stop() == 0


def base_state(**changes):
    return AppState(**{"phase": "unavailable", "docker_problem": "x", **changes})


def test_icon_shows_the_problem_and_open_kibana_is_disabled_without_the_stack(desktop, tray):
    _app, icon, _env, _port = tray
    icon.wait_colour(STATUS_COLOURS["problem"], timeout=10)  # Docker is not there
    icon.image("icon-docker-unavailable")
    icon.open_menu()
    icon.screenshot("menu-docker-unavailable")
    icon.xdotool("key", "Escape")
    # GTK's keyboard navigation skips disabled entries: counted from the model, where "Open
    # Kibana" is disabled, the keys land on "Snooze 15 min". Were Kibana enabled on screen,
    # they would land on it and open the browser instead.
    state = base_state()
    assert not next(e for e in build_menu(state) if e.action == "kibana.open").enabled
    icon.choose(state, lambda e: e.action == "snooze:900")
    icon.wait_colour(STATUS_COLOURS["snoozed"], timeout=10)
    assert desktop.browser_log.read_text() == ""


def test_recent_alert_opens_its_link_and_badge_shows(desktop, tray):
    _app, icon, env, port = tray
    # The alert's own URL opens as it is, without the stack's Kibana (a Discover link would
    # open the error view instead). Under the Kibana base: a sender's URL elsewhere is dropped.
    url = "http://127.0.0.1:5601/app/discover#/orders"
    alert = json.dumps({"pathname": "/app/orders.py", "count": 31, "url": url})
    logtray("send", "--port", port, "--json", alert, env=env)
    desktop.wait_for(lambda: desktop.notify_calls(), what="the notification")

    def red_badge() -> bool:  # the tray redraws at most every 0.3 s: waited for, not slept on
        image = icon.image("icon-alert-badge")
        badge = image.getpixel((image.width - 4, 4))
        return badge[0] > 180 and badge[1] < 110

    desktop.wait_for(red_badge, what="the red badge")
    state = base_state(recent=(RecentAlert(0, "x", 1, "u", needs_kibana=False),), unseen=1)
    icon.choose(state, lambda e: e.text.startswith("Recent alerts"), submenu_steps=1)
    opened = desktop.wait_for(lambda: desktop.browser_log.read_text().strip(), what="browser")
    assert opened == url


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


def _menu_height(icon):
    """The open menu's height in pixels: one row per entry (GTK draws disabled ones too)."""
    before = set(icon.xdotool("search", "--onlyvisible", "--class", "logtray").split())
    icon.open_menu()
    after = set(icon.xdotool("search", "--onlyvisible", "--class", "logtray").split())
    heights = []
    for window in after - before:
        geometry = icon.xdotool("getwindowgeometry", window)
        heights.append(int(geometry.split("Geometry: ")[1].split("x")[1].split()[0]))
    icon.xdotool("key", "Escape")
    return max(heights)


def test_lite_profile_menu_has_no_kibana_entry(desktop, tray, tmp_path):
    app, icon, env, _port = tray
    full = _menu_height(icon)
    app.stop()
    lite_env = {**env, "LOGTRAY_STACK_PROFILE": "lite", "LOGTRAY_LISTENER_PORT": str(free_port())}
    lite, lite_icon = start_tray(lite_env, ARTIFACTS, "unavailable (Docker")
    try:
        lite_icon.wait_colour(STATUS_COLOURS["problem"], timeout=10)
        lite_icon.open_menu()
        lite_icon.screenshot("menu-lite")
        lite_icon.xdotool("key", "Escape")
        rows = len(build_menu(base_state())) - len(build_menu(base_state(profile="lite")))
        assert rows == 1
        shorter = full - _menu_height(lite_icon)
        assert 16 <= shorter <= 40, f"the lite menu is {shorter} px shorter, not one row"
    finally:
        assert lite.stop() == 0


def test_start_at_login_writes_and_removes_the_autostart_entry(desktop, tray):
    _app, icon, _env, _port = tray
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "logtray.desktop"
    assert not entry.exists()
    icon.choose(base_state(), lambda e: e.action == "autostart.toggle")
    desktop.wait_for(entry.exists, what="the autostart entry")
    text = entry.read_text()
    assert "Exec=" in text and "-m logtray.tray" in text
    icon.open_menu()
    icon.screenshot("menu-start-at-login-checked")
    icon.xdotool("key", "Escape")
    icon.choose(base_state(autostart=True), lambda e: e.action == "autostart.toggle")
    desktop.wait_for(lambda: not entry.exists(), what="the entry to be removed")


def test_docker_unavailable_is_said_in_the_menu_and_quit_works(desktop, tray):
    app, icon, _env, _port = tray
    icon.wait_colour(STATUS_COLOURS["problem"], timeout=10)  # the menu's state is drawn
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
