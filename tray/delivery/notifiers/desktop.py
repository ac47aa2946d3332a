"""Native notifications through desktop-notifier, with an "Open in Kibana" action.

desktop-notifier's D-Bus backend always sends replaces_id 0, so updating a notification in
place is done by closing the previous one for the key and sending the new one: the user sees
one notification per key, with the latest figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from desktop_notifier import Button, DesktopNotifier, Icon

from logtray.tray.alerts.policy import Notice
from logtray.tray.delivery.actions import AlertActions
from logtray.tray.delivery.notifiers import notice_text

log = logging.getLogger(__name__)

OPEN_ACTION = "Open in Kibana"


class DesktopNotifierBackend:
    name = "desktop"

    def __init__(
        self,
        open_url: Callable[[str], object],
        icon: Path | None = None,
        actions: AlertActions | None = None,
    ) -> None:
        self._open_url = open_url
        self._actions = actions
        self._notifier = DesktopNotifier(
            app_name="logtray", app_icon=Icon(path=icon) if icon else None
        )
        self._shown: dict[str, str] = {}  # notice key -> desktop-notifier identifier
        # Linux servers may render markup in the body (asked in connect()); macOS shows plain
        # text and desktop-notifier builds Windows' toast XML with escaping.
        self._body_markup = sys.platform.startswith("linux")

    def _opener(self, url: str) -> Callable[[], None]:
        def open_in_background() -> None:
            # Callbacks run on the event loop; launching a browser may block for a moment.
            asyncio.get_running_loop().run_in_executor(None, self._open_url, url)

        return open_in_background

    @staticmethod
    def _runner(label: str, run: Callable[[], object]) -> Callable[[], None]:
        def guarded() -> None:
            try:
                run()
            except Exception:  # an action must never take the app down
                log.exception("the popup action %r failed", label)

        def in_background() -> None:
            asyncio.get_running_loop().run_in_executor(None, guarded)

        return in_background

    async def connect(self) -> None:
        """Connect to the notification service now, so the first alert does not wait for it."""
        await self._notifier.get_capabilities()
        if sys.platform.startswith("linux"):
            from logtray.tray.delivery.notifiers.linux_server import renders_body_markup

            self._body_markup = await renders_body_markup()

    async def show(self, notice: Notice) -> None:
        previous = self._shown.pop(notice.key, None)
        if previous and notice.replaces:
            with contextlib.suppress(KeyError):  # already closed by the user, or expired
                await self._notifier.clear(previous)
        buttons: list[Button] = []
        on_clicked = None
        if self._actions is not None:
            # Show errors / Open in Kibana / Open in editor; a click opens Kibana when it runs,
            # else the error view.
            for action in await self._actions.for_notice(notice):
                callback = self._runner(action.label, action.run)
                buttons.append(Button(title=action.label, on_pressed=callback))
                if on_clicked is None or action.label == OPEN_ACTION:
                    on_clicked = callback
        elif notice.url:
            on_clicked = self._opener(notice.url)
            buttons.append(Button(title=OPEN_ACTION, on_pressed=on_clicked))
        title, body = notice_text(notice, self._body_markup)
        identifier = await self._notifier.send(
            title=title, message=body, buttons=buttons, on_clicked=on_clicked
        )
        self._shown[notice.key] = identifier

    async def aclose(self) -> None:
        return None
