"""Which alerts of the history were told: an append-only file of their ids beside it.

The history keeps every accepted alert before it is shown; this file says which of them were
told since (a popup, a summary that counted it, or held by a snooze or do-not-disturb, which
tells it when the hold ends). An alert kept but never marked — the process died between the
two — is told on the next start, in the catch-up summary.

One JSON string per line (`"3f1c…"`): an id may hold any character, a line break too. The
file is bounded with the history: when the history is compacted, the marks are rewritten
with the ids it still holds. Reading never stops the app: at most MAX_READ_BYTES of its end
are read, and a line that is not a JSON string of an id's length (a torn write, anything a
stranger put there) is skipped; the file is then rewritten so the next mark starts on a
line of its own. A file that cannot be used leaves the marks in memory, said once.

A history without this file was written by a version that kept no marks: its alerts count
as told (an upgrade tells nothing again).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import orjson

from logtray.tray.alerts.alert import MAX_ID_CHARS
from logtray.tray.alerts.regular_file import OPEN_FLAGS, open_append, read_tail

log = logging.getLogger(__name__)

# The most of the file's end that is read (a history of 20,000 alerts has ~0.5 MB of marks).
MAX_READ_BYTES = 16 * 1024 * 1024


def parse_marks(data: bytes) -> tuple[list[str], bool]:
    """The ids in the marks file's `data`, and whether any part could not be read (a torn or
    foreign line). Never raises."""
    ids: list[str] = []
    bad = bool(data) and not data.endswith(b"\n")
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            bad = True
            continue
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS:
            ids.append(value)
        else:
            bad = True
    return ids, bad


class ShownMarks:
    def __init__(self, path: Path, read_only: bool = False, read: bool = True) -> None:
        """`read` False: the file is not read (a reader that never asks which were told)."""
        self.path = path
        self.read_only = read_only
        self._ids: dict[str, None] = {}  # ordered: the oldest mark first
        self._file: IO[bytes] | None = None
        self._lines_in_file = 0
        self.problem: str | None = None
        self.existed = False
        self.damaged = False  # lines skipped on load: rewrite before appending
        if not read:
            return
        try:
            self.existed = path.exists()
            ids, self.damaged = parse_marks(read_tail(path, MAX_READ_BYTES))
        except OSError as exc:
            self._fail("read", exc)
            self.existed = True  # unreadable is not "older version": nothing is told again
            return
        self._ids = dict.fromkeys(ids)
        self._lines_in_file = len(ids)

    def open(self) -> None:
        """Open the file for marks (made when missing); a failure leaves them in memory."""
        if self.read_only or self.problem is not None:
            return
        try:
            self._file = self._open_append()
        except OSError as exc:
            self._fail("open", exc)

    def _open_append(self) -> IO[bytes]:
        return os.fdopen(open_append(self.path), "ab")

    def _fail(self, doing: str, exc: OSError) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.problem is None:
            self.problem = f"cannot {doing} {self.path}: {exc.strerror or exc}"
            if not self.read_only:
                log.warning(
                    "alert history: %s; which alerts were shown is kept in memory until "
                    "logtray stops (fix: make it a writable file, or move it away)",
                    self.problem,
                )

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def mark(self, ids: Iterable[str]) -> None:
        """Note that these alerts were told (written at the next flush)."""
        if self.read_only:
            raise RuntimeError("these marks were opened read-only")
        lines = []
        for alert_id in ids:
            if alert_id not in self._ids:
                self._ids[alert_id] = None
                lines.append(orjson.dumps(alert_id) + b"\n")
        if not lines or self._file is None:
            return
        try:
            self._file.write(b"".join(lines))
            self._lines_in_file += len(lines)
        except OSError as exc:
            self._fail("write", exc)

    def keep_only(self, ids: Iterable[str]) -> None:
        """Forget the marks of alerts the history no longer holds, and rewrite the file with
        the rest (atomically, via a temporary file)."""
        wanted = set(ids)
        self._ids = {i: None for i in self._ids if i in wanted}
        if self.read_only or self.problem is not None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | OPEN_FLAGS, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(b"".join(orjson.dumps(i) + b"\n" for i in self._ids))
            if self._file is not None:
                self._file.close()
                self._file = None
            os.replace(tmp, self.path)
            self._file = self._open_append()
            self._lines_in_file = len(self._ids)
            self.damaged = False
        except OSError as exc:
            self._fail("write", exc)

    @property
    def lines_in_file(self) -> int:
        return self._lines_in_file

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                self._fail("write", exc)

    def clear(self) -> None:
        self.keep_only(())

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._file = None
                self._fail("write", exc)
            self._file = None
