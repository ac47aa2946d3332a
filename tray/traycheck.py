"""Can a tray icon be shown here? A sentence saying why not, so the app can go headless."""

from __future__ import annotations

import asyncio
import os
import sys

GTK_FIX = (
    "pip install 'logtray[gtk]' (needs your distribution's libgirepository1.0-dev and "
    "libcairo2-dev to build), or use the system Python with python3-gi"
)


def tray_problem() -> str | None:
    if not sys.platform.startswith("linux"):
        return None  # pystray's native backends on macOS and Windows always have a tray
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    try:
        import gi  # noqa: F401
    except ImportError:
        return f"PyGObject (gi) is missing, so the tray icon would have no menu; {GTK_FIX}"
    if _xembed_tray_present() or _status_notifier_present():
        return None
    return (
        "no system tray on this desktop (no XEmbed tray and no StatusNotifier host; on GNOME "
        "install the 'AppIndicator and KStatusNotifierItem Support' extension)"
    )


def _xembed_tray_present() -> bool:
    if not os.environ.get("DISPLAY"):
        return False
    try:
        from Xlib import X, display
    except ImportError:
        return False
    try:
        dpy = display.Display()
    except Exception:
        return False
    try:
        atom = dpy.intern_atom(f"_NET_SYSTEM_TRAY_S{dpy.get_default_screen()}")
        return bool(dpy.get_selection_owner(atom) != X.NONE)
    finally:
        dpy.close()


def _status_notifier_present() -> bool:
    from tray.notifiers.linux_server import STATUS_NOTIFIER_WATCHER, session_bus_names

    found = asyncio.run(session_bus_names((STATUS_NOTIFIER_WATCHER,)))
    return not isinstance(found, str) and STATUS_NOTIFIER_WATCHER in found
