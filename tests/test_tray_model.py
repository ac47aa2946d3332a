"""The pure parts of the tray: state summary, icon images, menu model, autostart entries."""

import datetime as dt
import plistlib

from tray import autostart
from tray.app import count_since, recent_alerts, seconds_until_tomorrow
from tray.config import Config
from tray.icon import STATUS_COLOURS, render_icon
from tray.menu import SEPARATOR, build_menu
from tray.state import AppState, RecentAlert, ServiceView, icon_kind, phase_from_services, tooltip


def views(*states):
    return tuple(ServiceView(f"s{i}", st, st) for i, st in enumerate(states))


def test_phase_from_services():
    assert phase_from_services(views("absent", "absent"), busy=False) == "stopped"
    assert phase_from_services(views("healthy", "running"), busy=False) == "healthy"
    assert phase_from_services(views("healthy", "exited"), busy=False) == "degraded"
    assert phase_from_services(views("healthy", "absent"), busy=False) == "degraded"
    assert phase_from_services(views("healthy", "starting"), busy=False) == "starting"
    assert phase_from_services(views("absent"), busy=True) == "starting"


def test_icon_kind_and_tooltip():
    healthy = AppState(phase="healthy", services=views("healthy", "healthy"), alerts_today=3)
    assert icon_kind(healthy) == "healthy"
    assert tooltip(healthy) == "logtray: 2/2 healthy · 3 alerts today"
    assert icon_kind(AppState(phase="healthy", do_not_disturb=True)) == "snoozed"
    assert "Docker unavailable" in tooltip(AppState(phase="unavailable"))


def test_icons_are_distinct_and_legible_at_small_sizes():
    for size in (16, 22, 32, 64):
        images = {kind: render_icon(kind, 0, size).tobytes() for kind in STATUS_COLOURS}
        assert len(set(images.values())) == len(STATUS_COLOURS)
        assert render_icon("healthy", 5, size).tobytes() != images["healthy"]
        assert render_icon("healthy", 0, size).size == (size, size)


def labels(entries):
    return [e.text for e in entries if e is not SEPARATOR]


def test_menu_when_docker_is_unavailable_says_why():
    menu = build_menu(AppState(phase="unavailable", docker_problem="Docker is not running (x)"))
    assert menu[0].text == "Start stack (full): Docker is not running"
    assert not menu[0].enabled
    assert not any(e.action == "stack.start" for e in menu)


def test_menu_stack_states():
    stopped = build_menu(AppState(phase="stopped", profile="lite", services=views("absent")))
    assert stopped[0].action == "stack.start" and stopped[0].text == "Start stack (lite)"
    services = next(e for e in stopped if e.text == "Services")
    assert services.children[0].text == "s0: absent"
    starting = build_menu(AppState(phase="starting", progress="kafka pulling 40%"))
    assert starting[0].text == "kafka pulling 40%" and not starting[0].enabled
    degraded = build_menu(AppState(phase="degraded", services=views("healthy", "exited")))
    assert "Repair stack (start what is missing)" in labels(degraded)


def test_menu_recent_alerts_and_quiet_entries():
    state = AppState(
        recent=(RecentAlert(0, "a.py — 30 errors in 10 s", 3, "http://k"),),
        unseen=3,
        snoozed_until=3600.0,
        autostart=True,
    )
    menu = build_menu(state)
    recent = next(e for e in menu if e.text.startswith("Recent alerts"))
    assert recent.text == "Recent alerts (3 new)"
    assert recent.children[0].action == "alert.open:0" and recent.children[0].text.endswith("×3")
    assert recent.children[-1].action == "alerts.clear"
    assert any(e.action == "resume" for e in menu)
    assert next(e for e in menu if e.action == "autostart.toggle").checked is True


def test_recent_alerts_fold_repeats_and_respect_clear():
    entries = [
        {"received": 30, "pathname": "/a.py", "count": 40},
        {"received": 20, "pathname": "/b.py"},
        {"received": 10, "pathname": "/a.py", "count": 30},
    ]
    recent = recent_alerts(entries, Config(), cleared_at=0)
    assert [(r.title, r.count) for r in recent] == [("a.py — 40 errors", 2), ("Problem in b.py", 1)]
    assert "pathname:%22/a.py%22" in (recent[0].url or "")
    assert len(recent_alerts(entries, Config(), cleared_at=15)) == 2
    assert count_since(entries, 15) == 2


def test_until_tomorrow_means_tomorrow_morning():
    now = dt.datetime(2026, 11, 25, 22, 30).timestamp()
    assert seconds_until_tomorrow(now) == 9.5 * 3600


def test_autostart_entries_per_platform(tmp_path, monkeypatch):
    command = ["/opt/py/bin/python", "-m", "tray"]
    desktop = autostart.render_entry(command, platform="linux")
    assert "Exec=/opt/py/bin/python -m tray" in desktop
    plist = plistlib.loads(autostart.render_entry(command, platform="darwin"))
    assert plist["ProgramArguments"] == command and plist["RunAtLoad"] is True
    assert '"/opt/py/bin/python" "-m" "tray"' in autostart.render_entry(command, platform="win32")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert autostart.toggle() is True and (tmp_path / "autostart" / "logtray.desktop").exists()
    assert autostart.is_enabled()
    assert autostart.toggle() is False and not autostart.is_enabled()
