"""Can a tray icon be shown here, and with which pystray backend? A sentence saying why not,
so the app can go headless."""

from __future__ import annotations

import os
import sys

GTK_FIX = (
    "pip install 'logtray[gtk]' (needs your distribution's libgirepository1.0-dev and "
    "libcairo2-dev to build), or use the system Python with python3-gi"
)
STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"


def tray_problem() -> str | None:
    if not sys.platform.startswith("linux"):
        return None  # pystray's native backends on macOS and Windows always have a tray
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    try:
        import gi  # noqa: F401
    except ImportError:
        return f"PyGObject (gi) is missing, so the tray icon would have no menu; {GTK_FIX}"
    if _xembed_tray_present() or status_notifier_present():
        return None
    return (
        "no system tray on this desktop (no XEmbed tray and no StatusNotifier host; on GNOME "
        "install the 'AppIndicator and KStatusNotifierItem Support' extension)"
    )


def linux_backend(status_notifier: bool) -> str:
    """pystray's backend for a Linux desktop that has a tray.

    With a StatusNotifier host, appindicator (what GNOME's extension and KDE show). Without
    one, appindicator only falls back to an XEmbed GtkStatusIcon of libayatana-appindicator's
    making, which makes GDK report `gdk_window_thaw_toplevel_updates: assertion ... failed` on
    every start (seen with the bare pystray example too); pystray's own gtk backend is that
    same XEmbed icon without the warning.
    """
    return "appindicator" if status_notifier else "gtk"


def prepare_gtk_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Before GTK loads: settings a tray icon is better off with (the user's own win).

    GDK_GL=disable: GTK 3 probes OpenGL when it opens the X display, which loads Mesa (and
    with the software renderer LLVM, ~50 MB resident) that an icon and a menu never use.
    """
    if not sys.platform.startswith("linux"):
        return
    environ.setdefault("GDK_GL", "disable")
    environ.setdefault("NO_AT_BRIDGE", "1")  # no accessibility bus for a tray icon
    if "PYSTRAY_BACKEND" not in environ:
        environ["PYSTRAY_BACKEND"] = linux_backend(status_notifier_present())


def _xembed_tray_present() -> bool:
    """Does an XEmbed tray own `_NET_SYSTEM_TRAY_S<screen>`? Asked of libX11 through ctypes
    (GTK maps libX11 anyway), not python-xlib: that stayed in memory (~1.5 MB) after one
    question at every start."""
    if not os.environ.get("DISPLAY"):
        return False
    import ctypes

    try:
        x11 = ctypes.CDLL("libX11.so.6")
    except OSError:
        return False
    display_p, atom = ctypes.c_void_p, ctypes.c_ulong
    x11.XOpenDisplay.argtypes, x11.XOpenDisplay.restype = [ctypes.c_char_p], display_p
    x11.XDefaultScreen.argtypes, x11.XDefaultScreen.restype = [display_p], ctypes.c_int
    x11.XInternAtom.argtypes = [display_p, ctypes.c_char_p, ctypes.c_int]
    x11.XInternAtom.restype = atom
    x11.XGetSelectionOwner.argtypes, x11.XGetSelectionOwner.restype = [display_p, atom], atom
    x11.XCloseDisplay.argtypes = [display_p]
    dpy = x11.XOpenDisplay(None)
    if not dpy:
        return False
    try:
        name = f"_NET_SYSTEM_TRAY_S{x11.XDefaultScreen(dpy)}".encode()
        return bool(x11.XGetSelectionOwner(dpy, x11.XInternAtom(dpy, name, 0)) != 0)
    finally:
        x11.XCloseDisplay(dpy)


def status_notifier_present() -> bool:
    return bus_name_owned(STATUS_NOTIFIER_WATCHER)


def bus_name_owned(name: str) -> bool:
    """Is `name` owned on the session bus? Asked through GLib's own D-Bus client (loaded with
    GTK anyway), not dbus-fast: an idle tray needs no second D-Bus library."""
    if not (
        os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.path.exists(f"/run/user/{os.getuid()}/bus")
    ):
        return False
    try:
        from gi.repository import Gio, GLib
    except ImportError:
        return False
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            GLib.Variant("(s)", (name,)),
            GLib.VariantType.new("(b)"),
            Gio.DBusCallFlags.NONE,
            2000,
            None,
        )
        return bool(reply.unpack()[0])
    except Exception:  # GLib.Error: no bus, a timeout; then nobody owns it either
        return False
