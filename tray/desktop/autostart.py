"""Start at login: an XDG autostart entry (Linux), a LaunchAgent (macOS), a Startup entry
(Windows). The menu's toggle reads the real state from disk every time."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

LABEL = "dev.logtray.tray"


def entry_path() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    if sys.platform == "win32":
        appdata = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
        return (
            appdata
            / "Microsoft"
            / "Windows"
            / "Start Menu"
            / "Programs"
            / "Startup"
            / "logtray.cmd"
        )
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "autostart" / "logtray.desktop"


def launch_command() -> list[str]:
    """How to start this very installation of logtray (its interpreter, not whatever is on PATH)."""
    return [sys.executable, "-m", "logtray.tray"]


def is_enabled() -> bool:
    return entry_path().exists()


def render_entry(command: list[str], platform: str = sys.platform) -> str | bytes:
    """The file's content for this platform (pure, for tests)."""
    if platform == "darwin":
        import plistlib  # macOS only (it brings the XML parser): not at every tray start

        return plistlib.dumps(
            {
                "Label": LABEL,
                "ProgramArguments": command,
                "RunAtLoad": True,
                "ProcessType": "Interactive",
            }
        )
    if platform == "win32":
        quoted = " ".join(f'"{part}"' for part in command)
        return f'@echo off\r\nstart "" {quoted}\r\n'
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=logtray\n"
        "Comment=Error-spike alerts from your local log stack\n"
        f"Exec={shlex.join(command)}\n"
        "Icon=logtray\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def enable() -> Path:
    path = entry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    content = render_entry(launch_command())
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def disable() -> None:
    entry_path().unlink(missing_ok=True)


def toggle() -> bool:
    """Flip the state; returns the new one."""
    if is_enabled():
        disable()
        return False
    enable()
    return True
