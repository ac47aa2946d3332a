"""Is there a notification server on this Linux desktop? (D-Bus, via dbus-fast)

Without one, desktop-notifier only logs cryptic D-Bus errors; we ask the bus first so we can
say what is missing.
"""

from __future__ import annotations

import asyncio
import os

NOTIFICATIONS_NAME = "org.freedesktop.Notifications"


async def notification_server_problem(timeout: float = 2.0) -> str | None:
    """None when a notification server is reachable; otherwise a sentence saying what is not."""
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
        for method in ("NameHasOwner", "ListActivatableNames"):
            reply = await asyncio.wait_for(
                bus.call(
                    Message(
                        destination="org.freedesktop.DBus",
                        path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus",
                        member=method,
                        signature="s" if method == "NameHasOwner" else "",
                        body=[NOTIFICATIONS_NAME] if method == "NameHasOwner" else [],
                    )
                ),
                timeout,
            )
            if reply is None or not reply.body:
                continue
            found = reply.body[0]
            if found is True or (isinstance(found, list) and NOTIFICATIONS_NAME in found):
                return None
        return (
            "no notification server is running on the D-Bus session bus "
            f"(nothing owns {NOTIFICATIONS_NAME})"
        )
    except Exception as exc:
        return f"cannot query the D-Bus session bus ({exc})"
    finally:
        bus.disconnect()
