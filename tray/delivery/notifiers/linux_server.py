"""What is on this Linux desktop's D-Bus session bus (via dbus-fast).

Without a notification server desktop-notifier only logs cryptic D-Bus errors, and without a
tray host the icon is invisible: we ask the bus first so we can say what is missing.
"""

from __future__ import annotations

import asyncio
import os

NOTIFICATIONS_NAME = "org.freedesktop.Notifications"
STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"


async def session_bus_names(names: tuple[str, ...], timeout: float = 2.0) -> set[str] | str:
    """Which of `names` are owned (or activatable) on the session bus; a sentence on failure."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.path.exists(
        f"/run/user/{os.getuid()}/bus"
    ):
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    try:
        from dbus_fast import BusType, Message
        from dbus_fast.aio import MessageBus
    except ImportError:
        return "the dbus-fast package is missing (reinstall logtray)"
    try:
        bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), timeout)
    except Exception as exc:
        return f"cannot connect to the D-Bus session bus ({exc})"
    try:
        found: set[str] = set()
        for member in ("ListNames", "ListActivatableNames"):
            reply = await asyncio.wait_for(
                bus.call(
                    Message(
                        destination="org.freedesktop.DBus",
                        path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus",
                        member=member,
                    )
                ),
                timeout,
            )
            if reply is not None and reply.body and isinstance(reply.body[0], list):
                found.update(n for n in reply.body[0] if n in names)
        return found
    except Exception as exc:
        return f"cannot query the D-Bus session bus ({exc})"
    finally:
        bus.disconnect()


async def notification_server_problem(timeout: float = 2.0) -> str | None:
    """None when a notification server is reachable; otherwise a sentence saying what is not."""
    found = await session_bus_names((NOTIFICATIONS_NAME,), timeout)
    if isinstance(found, str):
        return found
    if NOTIFICATIONS_NAME in found:
        return None
    return (
        "no notification server is running on the D-Bus session bus "
        f"(nothing owns {NOTIFICATIONS_NAME})"
    )


async def renders_body_markup(timeout: float = 2.0) -> bool:
    """Whether the notification server renders markup in a notification's body (it advertises
    "body-markup"; dunst does with `markup = full`, GNOME and KDE always). When it cannot be
    asked, True: an escaped body at worst shows `&amp;` as text, an unescaped one may render a
    sender's link."""
    try:
        from dbus_fast import BusType, Message
        from dbus_fast.aio import MessageBus
    except ImportError:
        return True
    try:
        bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), timeout)
    except Exception:
        return True
    try:
        reply = await asyncio.wait_for(
            bus.call(
                Message(
                    destination=NOTIFICATIONS_NAME,
                    path="/org/freedesktop/Notifications",
                    interface=NOTIFICATIONS_NAME,
                    member="GetCapabilities",
                )
            ),
            timeout,
        )
        if reply is None or not reply.body or not isinstance(reply.body[0], list):
            return True
        return "body-markup" in reply.body[0]
    except Exception:
        return True
    finally:
        bus.disconnect()
