"""The one error shape users see: what went wrong in one sentence, and how to fix it.

It lives in stack/, the room that stands alone, so that stack/ needs nothing from tray/; tray/
raises the same class, and its error boundary (tray/base/errors.py) turns it into a sentence.
"""

from __future__ import annotations


class LogtrayError(Exception):
    """A failure the user can act on: what went wrong, and how to fix it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"
