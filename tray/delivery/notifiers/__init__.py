"""Notification backends behind one small interface, chosen from one table."""

from __future__ import annotations

from typing import Protocol

from logtray.tray.alerts.policy import Notice


class Notifier(Protocol):
    """Shows notices. A notice with `replaces` updates the one already shown for its key."""

    name: str

    async def show(self, notice: Notice) -> None: ...

    async def aclose(self) -> None: ...
