"""Fallback notifier through plyer: no actions, no in-place updates, but works widely."""

from __future__ import annotations

import asyncio
from pathlib import Path

from logtray.tray.alerts.policy import Notice


class PlyerNotifier:
    name = "plyer"

    def __init__(self, icon: Path | None = None) -> None:
        from plyer import notification  # imported here: plyer probes the platform on import

        self._notification = notification
        self._icon = str(icon) if icon else ""

    async def show(self, notice: Notice) -> None:
        body = f"{notice.body}\n{notice.url}" if notice.url else notice.body
        # plyer blocks (it may spawn notify-send): keep it off the event loop.
        await asyncio.to_thread(
            self._notification.notify,
            title=notice.title,
            message=body,
            app_name="logtray",
            app_icon=self._icon,
            timeout=10,
        )

    async def aclose(self) -> None:
        return None
