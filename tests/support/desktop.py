"""A private Linux desktop for tests: Xvfb, a D-Bus session bus, dunst and dbus-monitor.

Everything is a child process started here and stopped in reverse order. The evidence that a
notification really went out is the Notify call on the bus (dbus-monitor) and dunst's own
history; actions are invoked for real through dunst's context menu ("dmenu" script).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, need
from tests.support.processes import Running

REQUIRED = (
    "Xvfb",
    "dbus-daemon",
    "dbus-monitor",
    "dunst",
    "dunstctl",
    "trayer",
    "xdotool",
    "import",
)


# What a child process needs from the private desktop to reach its X display, bus and browser.
CHILD_KEYS = ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER", "NO_AT_BRIDGE", "XDG_RUNTIME_DIR")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED if shutil.which(tool) is None]


@dataclass
class Desktop:
    root: Path
    env: dict[str, str]
    monitor_log: Path
    browser_log: Path
    dmenu_choice: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def dunstctl(self, *args: str) -> str:
        return subprocess.run(
            ["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10
        ).stdout

    def notify_calls(self) -> list[dict[str, object]]:
        """Parsed Notify method calls seen on the bus so far."""
        return parse_notify_calls(self.monitor_log.read_text(errors="replace"))

    def close_calls(self) -> int:
        return self.monitor_log.read_text(errors="replace").count("member=CloseNotification")

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition"):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def displayed(self) -> int:
        """How many notifications dunst has on screen now."""
        out = self.dunstctl("count", "displayed").strip()
        return int(out) if out.isdigit() else 0

    def wait_displayed(self, count: int = 1, timeout: float = 10.0) -> int:
        """Until dunst has `count` notifications on screen: it shows one a moment after the
        Notify call that dbus-monitor saw, and its actions act only on those it shows."""
        shown: int = self.wait_for(
            lambda: (n := self.displayed()) >= count and n,
            timeout,
            f"{count} notification(s) on screen",
        )
        return shown

    def invoke_action(self, label: str) -> None:
        """Choose `label` in dunst's context menu of the newest notification."""
        self.dmenu_choice.write_text(label)
        self.dunstctl("context")

    def child_env(self, **extra: str) -> dict[str, str]:
        """This environment with the desktop's display and bus, for a `logtray` child."""
        return {**os.environ, **{k: self.env[k] for k in CHILD_KEYS}, **extra}

    def shown(self) -> list[dict[str, str]]:
        """What dunst has shown (its history, newest first): `summary` and `body` as received,
        `message` as dunst renders it (Pango markup: escaped text stays text)."""
        self.dunstctl("close-all")  # dunst's history holds closed notifications only
        data = json.loads(self.dunstctl("history") or "{}").get("data") or [[]]
        return [{k: str(v.get("data", "")) for k, v in entry.items()} for entry in data[0]]

    def reset(self) -> None:
        self.dunstctl("close-all")
        self.dunstctl("history-clear")
        self.browser_log.write_text("")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_bus_name(env: dict[str, str], name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        if "boolean true" in out:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not appear on the session bus")


def _wait_tray_host(env: dict[str, str], timeout: float = 10.0) -> None:
    from Xlib import X, display

    deadline = time.monotonic() + timeout
    dpy = display.Display(env["DISPLAY"])
    try:
        atom = dpy.intern_atom("_NET_SYSTEM_TRAY_S0")
        while time.monotonic() < deadline:
            if dpy.get_selection_owner(atom) != X.NONE:
                return
            time.sleep(0.05)
    finally:
        dpy.close()
    raise RuntimeError("trayer did not take the system tray selection")


def desktop_fixture(root: Path) -> Iterator[Desktop]:
    """A fixture's body: skip when the tools are missing, else a desktop stopped afterwards."""
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)} (see .ci/run)")
    session = start_desktop(root)
    yield session
    session.stop()


@contextlib.contextmanager
def engine_and_demo(desktop: Desktop, bootstrap: str) -> Iterator[tuple[Running, Running, str]]:
    """`logtray engine` notifying on this desktop and `logtray demo` logging to the broker at
    `bootstrap`, both up; yields them and the demo's control address, and stops both after."""
    env = desktop.child_env()
    control = f"127.0.0.1:{free_port()}"
    engine = Running("engine", "--bootstrap", bootstrap, "--notifier", "desktop", env=env)
    demo = Running("demo", "--bootstrap", bootstrap, "--http", control, env=env)
    try:
        assert "notifications: desktop" in engine.wait_stderr("engine on")
        demo.stdout.get(timeout=15)  # "demo: logging to ..."
        yield engine, demo, control
    finally:
        demo.stop()
        engine.stop()


def spike_until_notified(desktop: Desktop, control: str) -> list[dict[str, object]]:
    """POST spikes to the demo at `control` until a Notify call shows up (or 30 s pass)."""
    deadline = time.monotonic() + 30
    calls: list[dict[str, object]] = []
    while not calls and time.monotonic() < deadline:
        request = urllib.request.Request(f"http://{control}/spike", method="POST")
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 202
        try:
            calls = desktop.wait_for(desktop.notify_calls, timeout=6, what="a Notify call")
        except AssertionError:
            continue  # the engine's first fetch may have come after this spike: again
    return calls


def start_desktop(root: Path, notification_server: bool = True, tray_host: bool = False) -> Desktop:
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "DISPLAY"))}
    env.update(NO_AT_BRIDGE="1", XDG_RUNTIME_DIR=str(root))
    (root).chmod(0o700)
    procs: list[subprocess.Popen[bytes]] = []
    desktop = Desktop(
        root, env, root / "dbus-monitor.log", root / "browser.log", root / "dmenu-choice", procs
    )
    try:
        read_fd, write_fd = os.pipe()
        procs.append(
            subprocess.Popen(
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ],
                pass_fds=(write_fd,),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as display_pipe:
            display = display_pipe.readline().strip()
        if not display:
            raise RuntimeError("Xvfb did not start")
        env["DISPLAY"] = f":{display}"

        # A bus of our own with no service directories: nothing gets D-Bus-activated behind
        # the test's back (dunst ships an activation file for org.freedesktop.Notifications).
        bus_config = root / "session.conf"
        bus_config.write_text(
            '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
            ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
            "<busconfig><type>session</type>"
            f"<listen>unix:dir={root}</listen><auth>EXTERNAL</auth>"
            '<policy context="default"><allow send_destination="*" eavesdrop="true"/>'
            '<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n'
        )
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={bus_config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        procs.append(bus)
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()

        monitor_out = desktop.monitor_log.open("wb")
        procs.append(
            subprocess.Popen(
                ["dbus-monitor", "--session", "interface='org.freedesktop.Notifications'"],
                stdout=monitor_out,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        )
        desktop.browser_log.write_text("")
        browser = root / "browser.sh"
        browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{desktop.browser_log}"\n')
        browser.chmod(0o755)
        env["BROWSER"] = str(browser)
        dmenu = root / "dmenu.sh"
        # dunst lists the actions on stdin; we answer with the line holding the chosen label.
        dmenu.write_text(f'#!/bin/sh\ngrep -F -- "$(cat "{desktop.dmenu_choice}")" | head -n 1\n')
        dmenu.chmod(0o755)
        desktop.dmenu_choice.write_text("")
        if notification_server:
            rc = root / "dunstrc"
            rc.write_text(
                "[global]\n"
                # what Debian's /etc/xdg/dunst/dunstrc sets: the body's markup is rendered
                "    markup = full\n"
                f'    dmenu = "{dmenu}"\n'
                f'    browser = "{browser}"\n'
                "    timeout = 0\n"
                "    sticky_history = yes\n"
                "    history_length = 200\n"
                "    notification_limit = 0\n"
                "[urgency_normal]\n    timeout = 0\n"
            )
            procs.append(
                subprocess.Popen(
                    ["dunst", "-config", str(rc)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(root / "dunst.log").open("wb"),
                )
            )
            _wait_bus_name(env, "org.freedesktop.Notifications")
            # dbus-monitor must be listening before the first Notify.
            _wait_bus_name(env, "org.freedesktop.DBus")
        if tray_host:
            procs.append(
                subprocess.Popen(
                    [
                        "trayer",
                        "--edge",
                        "bottom",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                        "--height",
                        "32",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait_tray_host(env)
    except BaseException:
        desktop.stop()
        raise
    return desktop


_NOTIFY = re.compile(
    r"member=Notify\n(?P<args>.*?)(?=\n(?:method call|signal|method return|error)|\Z)", re.S
)
_STRING = re.compile(r'^\s*string "(?P<s>(?:[^"\\]|\\.)*)"', re.M)


def parse_notify_calls(log: str) -> list[dict[str, object]]:
    """dbus-monitor's text for Notify(app, replaces_id, icon, summary, body, actions, ...)."""
    calls = []
    for match in _NOTIFY.finditer(log):
        strings = _STRING.findall(match.group("args"))
        # strings: app_name, icon, summary, body, then the actions' keys and labels, then hints
        if len(strings) < 4:
            continue
        calls.append(
            {"app": strings[0], "title": strings[2], "body": strings[3], "strings": strings[4:]}
        )
    return calls
