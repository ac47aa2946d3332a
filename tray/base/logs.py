"""Logging to a rotating file in the user log dir (and warnings to stderr, one line each).

Tracebacks go to the file only: the terminal gets the message and the exception's type, and
where the details are. Warnings a sender can trigger go through `Throttled`.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections import OrderedDict

from logtray.tray.base import paths

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """The message without a traceback (that goes to the log file), plus the error's type."""

    def format(self, record: logging.LogRecord) -> str:
        exc_info, exc_text, stack_info = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = exc_info, exc_text, stack_info
        if exc_info and exc_info[1] is not None:
            text += f" ({type(exc_info[1]).__name__}: {exc_info[1]}; details in {paths.log_file()})"
        return text


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
    console.setFormatter(OneLineFormatter("logtray: %(message)s"))
    root.addHandler(console)
    root._logtray_configured = True  # type: ignore[attr-defined]


class Throttled:
    """Warnings rate limited per key (e.g. per peer): a flood must not rotate the log away.

    The first warning for a key is logged; repeats within `interval_s` are only counted and
    the next one logged says how many were left out. At most `max_keys` keys are remembered
    (least recently warned dropped first), so many peers cannot grow it either.
    """

    def __init__(
        self, logger: logging.Logger, interval_s: float = 60.0, max_keys: int = 1024
    ) -> None:
        self._log = logger
        self.interval_s = interval_s
        self.max_keys = max_keys
        # key -> [time the next warning may be logged, warnings left out since the last one]
        self._keys: OrderedDict[str, list[float]] = OrderedDict()

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        state = self._keys.get(key)
        if state is not None and now < state[0]:
            state[1] += 1
            return
        left_out = int(state[1]) if state is not None else 0
        self._keys[key] = [now + self.interval_s, 0]
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        if left_out:
            message += f" ({left_out} more like this in the last {self.interval_s:g} s)"
        self._log.warning(message, *args)
