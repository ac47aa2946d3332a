"""Driving the real tray icon under Xvfb: find it, look at it, open its menu, choose items.

Menu items are chosen with the keyboard, as a user could: the number of Down presses comes
from the app's own pure menu model (tray.menu.build_menu) for the state the test expects.
GTK's keyboard navigation skips separators and disabled items, and so does `steps_to`.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from PIL import Image

from logtray.tray.desktop.menu import SEPARATOR, Entry, build_menu
from logtray.tray.desktop.state import AppState
from tests.conftest import free_port
from tests.support.desktop import Desktop
from tests.support.processes import Running


def navigable(entries: tuple[Entry, ...]) -> list[Entry]:
    return [e for e in entries if e is not SEPARATOR and (e.children or (e.enabled and e.action))]


def steps_to(entries: tuple[Entry, ...], predicate) -> int:  # type: ignore[no-untyped-def]
    for index, entry in enumerate(navigable(entries)):
        if predicate(entry):
            return index + 1
    raise AssertionError("no such menu entry")


class TrayIcon:
    def __init__(self, env: dict[str, str], artifacts: Path) -> None:
        self.env = env
        self.artifacts = artifacts
        artifacts.mkdir(parents=True, exist_ok=True)
        self.window = ""

    def xdotool(self, *args: str) -> str:
        return subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10
        ).stdout

    def find(self, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.xdotool("search", "--onlyvisible", "--class", "logtray").split()
            if ids:
                self.window = ids[-1]
                return self.window
            time.sleep(0.1)
        raise AssertionError("the tray icon did not appear")

    def image(self, name: str | None = None) -> Image.Image:
        out = self.artifacts / f"{name or 'icon'}.png"
        subprocess.run(
            ["import", "-window", self.window, str(out)], env=self.env, check=True, timeout=10
        )
        with Image.open(out) as image:
            return image.convert("RGB")

    def screenshot(self, name: str) -> Path:
        out = self.artifacts / f"{name}.png"
        subprocess.run(
            ["import", "-window", "root", str(out)], env=self.env, check=True, timeout=10
        )
        return out

    def status_colour(self) -> tuple[int, int, int]:
        """The status dot's colour: the commonest saturated colour in the icon's lower right."""
        image = self.image()
        w, h = image.size
        side = min(w, h)
        x0, y0 = (w - side) // 2, (h - side) // 2
        corner = image.crop((x0 + side // 2, y0 + side // 2, x0 + side, y0 + side))
        counts: dict[tuple[int, int, int], int] = {}
        pixels = (
            corner.getpixel((x, y)) for y in range(corner.height) for x in range(corner.width)
        )
        for pixel in pixels:
            r, g, b = pixel[:3]
            if max(r, g, b) - min(r, g, b) < 20 and not (140 <= r <= 150):
                continue  # white, black and the dark art; but keep the grey "stopped" dot
            counts[(r, g, b)] = counts.get((r, g, b), 0) + 1
        return max(counts, key=counts.__getitem__) if counts else (0, 0, 0)

    def wait_colour(self, rgb: tuple[int, int, int], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.status_colour()
            if all(abs(a - b) <= 24 for a, b in zip(seen, rgb, strict=True)):
                return
            time.sleep(0.2)
        raise AssertionError(f"icon status colour {seen}, expected about {rgb}")

    def wait_phase(self, phase: str, timeout: float = 30) -> None:
        """Wait until the app logs that the stack is in `phase` (its state is then settled)."""
        log_file = Path(os.environ["XDG_STATE_HOME"]) / "logtray" / "log" / "logtray.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log_file.exists() and f"stack phase: {phase}" in log_file.read_text():
                return
            time.sleep(0.05)
        raise AssertionError(f"the app never reported the stack phase {phase!r}")

    def _visible_windows(self) -> int:
        return len(self.xdotool("search", "--onlyvisible", "--class", "logtray").split())

    def open_menu(self) -> None:
        """Right-click the icon until the menu's window is mapped (GTK maps it asynchronously)."""
        closed = self._visible_windows()
        for _ in range(3):
            self.xdotool("mousemove", "--window", self.window, "8", "8", "click", "3")
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                if self._visible_windows() > closed:
                    time.sleep(0.1)
                    return
                time.sleep(0.05)
        raise AssertionError("the tray menu did not open")

    def choose(self, state: AppState, predicate, submenu_steps: int | None = None) -> None:  # type: ignore[no-untyped-def]
        """Open the menu and choose the entry matching `predicate` (in a submenu: then Right and
        `submenu_steps` more Down presses)."""
        steps = steps_to(build_menu(state), predicate)
        self.open_menu()
        keys = ["Down"] * steps
        if submenu_steps is not None:
            keys += ["Right"] + ["Down"] * (submenu_steps - 1)
        self.xdotool("key", "--delay", "60", *keys)
        time.sleep(0.2)
        self.xdotool("key", "Return")
        time.sleep(0.3)


def tray_env(desktop: Desktop, **extra: str) -> dict[str, str]:
    """The tray app's environment: the desktop's display, bus and browser, and a listener on
    a free loopback port (several apps in one test run must not collide)."""
    return {
        **os.environ,
        **{k: desktop.env[k] for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "BROWSER")},
        "LOGTRAY_LISTENER_PORT": str(free_port()),
        "LOGTRAY_LISTENER_HOSTS": "127.0.0.1",
        **extra,
    }


def start_tray(env: dict[str, str], artifacts: Path, phase: str) -> tuple[Running, TrayIcon]:
    """The tray app, listening, its icon found and the stack settled in `phase`.

    The app is stopped again when any of that fails, so the caller only owns a started one.
    """
    app = Running(env=env)
    try:
        app.wait_stderr("listening on")
        icon = TrayIcon(env, artifacts)
        icon.find()
        icon.wait_phase(phase)
    except BaseException:
        app.stop()
        raise
    return app, icon
