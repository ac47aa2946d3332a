"""The pure parts of the tray: state summary, icon images, menu model, autostart entries."""

import datetime as dt
import plistlib

from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.base.config import Config
from logtray.tray.desktop import autostart, failure
from logtray.tray.desktop.app import count_since, recent_alerts, seconds_until_tomorrow
from logtray.tray.desktop.failure import Failure, short_line
from logtray.tray.desktop.icon import STATUS_COLOURS, render_icon
from logtray.tray.desktop.menu import SEPARATOR, build_menu
from logtray.tray.desktop.state import (
    AppState,
    RecentAlert,
    ServiceView,
    icon_kind,
    phase_from_services,
    tooltip,
)


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


def test_problem_icon_when_docker_is_away_or_an_action_failed():
    assert icon_kind(AppState(phase="unavailable")) == "problem"
    assert icon_kind(AppState(phase="stopped", last_error="Start stack failed: x")) == "problem"
    assert icon_kind(AppState(phase="starting", last_error=None)) == "starting"
    # snooze is the user's latest choice: its mark wins, the menu still says the problem
    assert icon_kind(AppState(phase="unavailable", do_not_disturb=True)) == "snoozed"
    failed = AppState(phase="stopped", last_error="Start stack failed: x")
    assert tooltip(failed) == "logtray: stack stopped · Start stack failed: x · 0 alerts today"


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
    long = "Docker is not installed anywhere on this machine, nor is its socket (x)"
    first = build_menu(AppState(phase="unavailable", docker_problem=long))[0]
    assert len(first.text) <= failure.MENU_LINE_CHARS and first.text.endswith("…")


def enabled_actions(menu):
    out = set()
    for e in menu:
        if e.children:
            out |= enabled_actions(e.children)
        elif e.action and e.enabled:
            out.add(e.action)
    return out


def test_open_kibana_only_while_kibana_is_ready_and_never_in_lite():
    services = (ServiceView("kafka", "healthy", "healthy"), ServiceView("kibana", "absent", "-"))
    recent = (
        RecentAlert(0, "a.py: 30 errors", 1, "http://127.0.0.1:5601/x"),
        RecentAlert(0, "own link", 1, "https://ci.example/run/1", needs_kibana=False),
    )
    for phase in ("unavailable", "stopped", "starting", "degraded"):
        menu = build_menu(AppState(phase=phase, services=services, recent=recent))
        kibana = next(e for e in menu if e.action == "kibana.open")
        assert not kibana.enabled and not kibana.default and "not running" in kibana.text
        # A Discover link without Kibana opens the error view instead; the alert's own URL works.
        assert {"alert.open:0", "alert.open:1"} <= enabled_actions(menu)
        recent_menu = next(e for e in menu if e.text.startswith("Recent alerts")).children
        assert recent_menu[0].text.endswith("(errors)")
        assert not recent_menu[1].text.endswith("(errors)")
    ready = (services[0], ServiceView("kibana", "healthy", "healthy"))
    menu = build_menu(AppState(phase="healthy", services=ready, recent=recent))
    kibana = next(e for e in menu if e.action == "kibana.open")
    assert kibana.enabled and kibana.default and kibana.text == "Open Kibana"
    assert {"alert.open:0", "alert.open:1"} <= enabled_actions(menu)
    for phase in ("unavailable", "stopped", "healthy"):
        lite = build_menu(AppState(phase=phase, profile="lite", services=ready))
        assert not any("Kibana" in e.text for e in lite)


def test_every_enabled_entry_has_an_action_in_every_state():
    for phase in ("unavailable", "stopped", "starting", "healthy", "degraded", "stopping"):
        for state in (
            AppState(phase=phase),
            AppState(phase=phase, last_error="Start stack failed: x", snoozed_until=1.0),
        ):
            menu = build_menu(state)
            for entry in menu:
                if entry.enabled and not entry.children and entry is not SEPARATOR:
                    assert entry.action, entry
            starts = [e for e in menu if e.action == "stack.start" and e.enabled]
            assert bool(starts) == (phase in ("stopped", "degraded"))


def test_a_failure_is_one_short_line_in_the_menu_and_the_cli_words_in_the_notification():
    problem = Failure(
        "stack",
        "Start stack failed",
        "cannot pull docker.elastic.co/kibana/kibana:8.19.0: dial tcp: lookup registry\n"
        "  last log lines:\n    x",
        "check your network, or set [stack] pull = false",
    )
    line = problem.menu_line()
    assert line.startswith("Start stack failed: cannot pull") and line.endswith("…")
    assert len(line) <= failure.MENU_LINE_CHARS
    title, body = problem.notification()
    assert title == "logtray: Start stack failed"
    assert body == (
        "cannot pull docker.elastic.co/kibana/kibana:8.19.0: dial tcp: lookup registry\n"
        "fix: check your network, or set [stack] pull = false"
    )
    menu = build_menu(AppState(phase="stopped", last_error=line))
    assert any(e.text == line and not e.enabled for e in menu)
    assert "last log lines" in problem.report()


@given(st.text(max_size=300), st.integers(min_value=8, max_value=120))
def test_short_line_fits_and_keeps_the_start(text, limit):
    line = short_line(text, limit)
    assert len(line) <= limit and "\n" not in line
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    assert first.startswith(line.rstrip("…").rstrip())


def test_failure_is_kept_for_doctor_until_its_cause_is_gone(tmp_path):
    path = tmp_path / "p.json"
    kept = Failure("docker", "Docker went away", "Docker is not running (x)", "start it", 5.0)
    failure.save(kept, path)
    assert failure.load(path) == kept
    failure.clear("stack", path)  # another key: kept
    assert failure.load(path) == kept
    failure.clear("docker", path)
    assert failure.load(path) is None
    path.write_text("{not json")
    assert failure.load(path) is None


def test_menu_stack_states():
    stopped = build_menu(AppState(phase="stopped", profile="lite", services=views("absent")))
    assert stopped[0].action == "stack.start" and stopped[0].text == "Start stack (lite)"
    services = next(e for e in stopped if e.text == "Services")
    assert services.children[0].text == "s0: absent"
    starting = build_menu(AppState(phase="starting", progress="kafka pulling 40%"))
    assert "Open Kibana" not in labels(stopped)
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
    assert recent.children[0].action == "alert.open:0" and "×3" in recent.children[0].text
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
    assert "logtray.group:%22/a.py%22" in (recent[0].url or "")
    assert len(recent_alerts(entries, Config(), cleared_at=15)) == 2
    assert count_since(entries, 15) == 2


def test_recent_alerts_show_what_was_caught_up_at_its_own_time():
    entries = [
        {"received": 5000, "pathname": "/b.py", "told": "live"},
        {"received": 4000, "pathname": "/a.py", "time": 1000, "told": "caught up"},
    ]
    recent = recent_alerts(entries, Config(), cleared_at=0)
    assert [(r.received, r.caught_up) for r in recent] == [(5000, False), (1000, True)]
    menu = build_menu(AppState(recent=recent))
    items = next(e for e in menu if e.text.startswith("Recent alerts")).children
    assert items[1].text.endswith("Problem in a.py (while away) (errors)"), items[1].text
    assert "while away" not in items[0].text


def test_until_tomorrow_means_tomorrow_morning():
    now = dt.datetime(2026, 11, 25, 22, 30).timestamp()
    assert seconds_until_tomorrow(now) == 9.5 * 3600


def test_autostart_entries_per_platform(tmp_path, monkeypatch):
    command = ["/opt/py/bin/python", "-m", "logtray.tray"]
    desktop = autostart.render_entry(command, platform="linux")
    assert "Exec=/opt/py/bin/python -m logtray.tray" in desktop
    plist = plistlib.loads(autostart.render_entry(command, platform="darwin"))
    assert plist["ProgramArguments"] == command and plist["RunAtLoad"] is True
    assert '"/opt/py/bin/python" "-m" "logtray.tray"' in autostart.render_entry(
        command, platform="win32"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert autostart.toggle() is True and (tmp_path / "autostart" / "logtray.desktop").exists()
    assert autostart.is_enabled()
    assert autostart.toggle() is False and not autostart.is_enabled()


def test_deferred_notifier_chooses_once_at_the_first_notice(capsys):
    import asyncio
    import json

    from logtray.tray.alerts.policy import Notice
    from logtray.tray.delivery.notifiers.deferred import DeferredNotifier

    notifier = DeferredNotifier("console", print, expected="desktop")
    assert notifier.name == "desktop"  # nothing chosen or loaded yet

    async def three_at_once():
        notices = [Notice(f"k{i}", f"t{i}", "b", None, 1) for i in range(3)]
        await asyncio.gather(*(notifier.show(n) for n in notices))
        first = notifier._real
        await notifier.show(Notice("k3", "t3", "b", None, 1))
        assert notifier._real is first  # chosen once
        await notifier.aclose()

    asyncio.run(three_at_once())
    assert notifier.name == "console"
    shown = [json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(shown) == ["t0", "t1", "t2", "t3"]


def test_gtk_environment_for_a_tray_icon():
    from logtray.tray.desktop.traycheck import linux_backend, prepare_gtk_environment

    assert linux_backend(status_notifier=True) == "appindicator"
    assert linux_backend(status_notifier=False) == "gtk"  # no appindicator XEmbed fallback
    env = {"PYSTRAY_BACKEND": "xorg"}
    prepare_gtk_environment(env)
    assert env == {"PYSTRAY_BACKEND": "xorg", "GDK_GL": "disable", "NO_AT_BRIDGE": "1"}
    mine = {"PYSTRAY_BACKEND": "gtk", "GDK_GL": "always"}
    prepare_gtk_environment(mine)
    assert mine["GDK_GL"] == "always"  # the user's own setting wins


def test_the_heartbeat_line_in_the_menu_and_an_unproven_path_is_a_problem():
    proven = AppState(
        phase="healthy",
        services=views("healthy"),
        alerts_proof="alerts: proven 40 s ago, 180 ms end to end",
    )
    line = next(e for e in build_menu(proven) if e.text.startswith("alerts:"))
    assert line.text == "alerts: proven 40 s ago, 180 ms end to end" and not line.enabled
    assert icon_kind(proven) == "healthy"
    unproven = AppState(
        phase="healthy",
        services=views("healthy"),
        alerts_proof="alerts: not proven — Riemann did not answer 2 heartbeats in a row",
        alerts_unproven=True,
    )
    assert icon_kind(unproven) == "problem"
    assert any(e.text.startswith("alerts: not proven") for e in build_menu(unproven))
    # a stopped stack proves nothing and says nothing about it
    stopped = AppState(phase="stopped", alerts_proof="alerts: proven 1 s ago, 5 ms end to end")
    assert not any(e.text.startswith("alerts:") for e in build_menu(stopped))
