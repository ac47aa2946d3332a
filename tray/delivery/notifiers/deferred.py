"""The tray's notifier, chosen and loaded at the first notice instead of at start.

desktop-notifier and dbus-fast cost ~4 MB resident and ~0.4 s of imports; an idle tray has
nothing to show yet. The first notice (an alert, or a failure of the tray's own) runs
`select_notifier` as `logtray listen` does at start, so the choice and its warnings are the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from logtray.tray.alerts.policy import Notice
from logtray.tray.delivery.notifiers import Notifier

if TYPE_CHECKING:
    from logtray.tray.delivery.actions import AlertActions


class DeferredNotifier:
    def __init__(self, backend: str, open_url: Callable[[str], object], expected: str) -> None:
        self.name = expected  # what the first notice will most likely choose; then the real one
        self._backend = backend
        self._open_url = open_url
        # The popups' actions (Show errors, Open in editor): set once the app's service exists.
        self.actions: AlertActions | None = None
        self._real: Notifier | None = None
        self._choosing = asyncio.Lock()

    async def _notifier(self) -> Notifier:
        async with self._choosing:  # two first notices at once choose once
            if self._real is None:
                from logtray.tray.delivery.notifiers.select import select_notifier

                self._real = await select_notifier(self._backend, self._open_url, self.actions)
                self.name = self._real.name
        return self._real

    async def show(self, notice: Notice) -> None:
        await (await self._notifier()).show(notice)

    async def aclose(self) -> None:
        if self._real is not None:
            await self._real.aclose()
