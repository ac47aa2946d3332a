"""The one boundary that turns failures into sentences (the error type itself: stack/errors.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from logtray.stack.errors import LogtrayError
from logtray.tray.base import paths

__all__ = ["LogtrayError", "run_guarded"]

log = logging.getLogger(__name__)

EXIT_USER_ERROR = 1
EXIT_UNEXPECTED = 2
EXIT_INTERRUPTED = 130


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
