"""The one error type users see, and the one boundary that turns failures into sentences."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from logtray.tray import paths

log = logging.getLogger(__name__)

EXIT_USER_ERROR = 1
EXIT_UNEXPECTED = 2
EXIT_INTERRUPTED = 130


class LogtrayError(Exception):
    """A failure the user can act on: what went wrong, and how to fix it."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"


def run_guarded(func: Callable[[], int]) -> int:
    """Run a CLI command; never let a traceback reach the terminal.

    A LogtrayError exits 1 with its sentence. Anything else is a bug: it is logged with its
    traceback to the log file, and the user is told where that file is.
    """
    try:
        return func()
    except LogtrayError as exc:
        log.info("user error: %s", exc)
        print(f"logtray: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        log.exception("unexpected error")
        print(
            f"logtray: unexpected error: {type(exc).__name__}: {exc}\n"
            f"  details are in {paths.log_file()} (please attach it to a bug report)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
