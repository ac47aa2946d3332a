"""Fallback notifier through plyer: no actions, no in-place updates, but works widely."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from logtray.tray.alerts.policy import Notice
from logtray.tray.delivery.notifiers import notice_text


class PlyerNotifier:
    name = "plyer"

    def __init__(self, icon: Path | None = None) -> None:
        from plyer import notification  # imported here: plyer probes the platform on import

        self._notification = notification
        self._icon = str(icon) if icon else ""
        # On Linux plyer hands the body to the notification server, which may render markup;
        # asked at the first notice. Elsewhere plyer shows plain text.
        self._body_markup: bool | None = None if sys.platform.startswith("linux") else False

    async def show(self, notice: Notice) -> None:
        if self._body_markup is None:
            from logtray.tray.delivery.notifiers.linux_server import renders_body_markup

            self._body_markup = await renders_body_markup()
        body = f"{notice.body}\n{notice.url}" if notice.url else notice.body
        title, body = notice_text(notice, self._body_markup, body)
        # Without dbus-python plyer runs `notify-send TITLE BODY -i ...`: text starting with
        # "-" would be read as an option, so it never does.
        title, body = (f" {text}" if text.startswith("-") else text for text in (title, body))
        # plyer blocks (it may spawn notify-send): keep it off the event loop.
        await asyncio.to_thread(
            self._notification.notify,
            title=title,
            message=body,
            app_name="logtray",
            app_icon=self._icon,
            timeout=10,
        )

    async def aclose(self) -> None:
        return None
