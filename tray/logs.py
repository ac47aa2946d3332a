"""Logging to a rotating file in the user log dir (and warnings to stderr)."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from tray import paths

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger()
    if getattr(root, "_logtray_configured", False):
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        paths.log_dir().mkdir(parents=True, exist_ok=True)
        file_handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_file(), maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(file_handler)
    except OSError as exc:  # a read-only home must not stop the app
        print(f"logtray: cannot write the log file {paths.log_file()}: {exc}", file=sys.stderr)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("logtray: %(message)s"))
    root.addHandler(console)
    root._logtray_configured = True  # type: ignore[attr-defined]
