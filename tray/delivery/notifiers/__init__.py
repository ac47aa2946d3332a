"""Notification backends behind one small interface, chosen from one table."""

from __future__ import annotations

from typing import Protocol

from logtray.tray.alerts.policy import Notice
from logtray.tray.base.text import escape_markup, shown_text


class Notifier(Protocol):
    """Shows notices. A notice with `replaces` updates the one already shown for its key."""

    name: str

    async def show(self, notice: Notice) -> None: ...

    async def aclose(self) -> None: ...


def notice_text(notice: Notice, body_markup: bool, body: str | None = None) -> tuple[str, str]:
    """The title and body to hand to a backend: cleaned by the one `shown_text`, the body
    escaped when the server renders markup in it (the title is never markup)."""
    text = shown_text(notice.body if body is None else body, multiline=True)
    return shown_text(notice.title), escape_markup(text) if body_markup else text
