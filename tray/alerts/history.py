"""The persisted alert history: every accepted alert, newest last, bounded.

An append-only JSON-lines file in the user data dir. Appends are buffered and flushed once per
loop turn by the router; when the file holds twice the bound it is rewritten with the newest
`limit` lines (atomically, via a temporary file), so it never grows without end. Entries are
kept serialised in memory: appends happen at flood rates, reads (the menu) rarely.

A flood cannot evict the others' alerts: records of a flood (the policy marks them with the
flood's pattern in `flood`) are kept apart, at most half of `limit` of them (the oldest go
first), beside the last `limit` of all other records.

The file never decides whether alerts are received. It is opened without blocking (a FIFO in
its place cannot hang start-up, `logtray alerts` or shutdown) and used only if it is a
regular file; when it cannot be opened, read or written (a directory, a FIFO, a read-only or
full disk), the history goes on in memory and `problem` says why, once (the log, the tray
menu, `logtray doctor`). Records are split on "\n" only, so a record holding any character
(U+2028, U+0085, ...) reads back as it was written. At most MAX_READ_BYTES of the file's end
are read. The file is private to the user (0600, its folder 0700).

Loading never stops the app: a record that cannot be read is skipped (one warning for all),
a sender's `url` is checked again against the allowed prefixes (tray.links), an alert time
more than a day from its receipt is replaced by the receipt time (the raw value kept as
`time_raw`), and a torn last line (a crash mid-write) is cut off by rewriting the file, so
the next append starts on a line of its own.

Which alerts were told is kept beside it (`alerts.shown`, tray/alerts/shown.py): `unshown`
names those kept but never told (the process died between the two), for the next start's
summary. The alerts' own file keeps its format.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import math
import os
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from logtray.tray.alerts.alert import SANE_TIME_S, Alert, parse_time
from logtray.tray.alerts.regular_file import OPEN_FLAGS, open_append, read_tail
from logtray.tray.alerts.shown import ShownMarks
from logtray.tray.base.links import safe_url

log = logging.getLogger(__name__)


class AlertHistory:
    def __init__(
        self,
        path: Path,
        limit: int = 1000,
        url_prefixes: Sequence[str] = (),
        read_only: bool = False,
    ) -> None:
        """`read_only` for readers beside a running listener (`logtray alerts`): never rewrite
        the file under it (its appends would go to the replaced file), and never read which
        alerts were told (`unshown` is for the listener's own start)."""
        self.path = path
        self.limit = limit
        self.url_prefixes = tuple(url_prefixes)
        # (sequence number, serialised line): the others' records, and the floods' apart
        self._lines: deque[tuple[int, str]] = deque(maxlen=limit)
        self._flood: deque[tuple[int, str]] = deque(maxlen=max(1, limit // 2))
        self._seq = itertools.count()
        self._lines_in_file = 0
        self.appended = 0  # entries written by this process (the benchmark checks none is lost)
        self.read_only = read_only
        # Why the history is kept in memory only (None: it is saved to the file), and the
        # short reason.
        self.problem: str | None = None
        self.failure: str | None = None
        self._file: IO[str] | None = None
        # Which alerts were told (tray/alerts/shown.py), beside the history. Read-only
        # readers (`logtray alerts`, doctor) never ask: up to 16 MB of marks go unread.
        self.shown = ShownMarks(path.with_suffix(".shown"), read_only, read=not read_only)
        try:
            rewrite = self._load()
        except OSError as exc:
            self._fail("read", exc)
            return
        if read_only:
            return
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # an older, wider folder: alerts are private
                path.parent.chmod(0o700)
            self._open_shown()
            self._file = self._open_append()
            if rewrite:
                self._compact()
        except OSError as exc:
            self._fail("open", exc)

    def _open_shown(self) -> None:
        held = self.ids()
        shown = self.shown
        if not shown.existed or shown.problem is not None:
            # A history from a version that kept no marks: its alerts were told then. Marks
            # that cannot be read are no proof of anything untold: nothing is told again.
            shown.mark(held)
        shown.open()
        if not shown.existed or shown.damaged or len(shown) > len(held):
            shown.keep_only(held)

    def _open_append(self) -> IO[str]:
        return os.fdopen(open_append(self.path), "a", encoding="utf-8")

    def _fail(self, doing: str, exc: OSError) -> None:
        """Go on in memory only, and say so once."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.problem is None:
            self.failure = f"cannot {doing} {self.path}: {exc.strerror or exc}"
            self.problem = (
                f"alert history: {self.failure}; alerts are received, shown and kept in memory "
                "until logtray stops"
            )
            if not self.read_only:
                log.warning("%s (fix: make it a writable file, or move it away)", self.problem)

    def _load(self) -> bool:
        """Read the file; True when it must be rewritten (skipped, changed or torn lines)."""
        data = read_tail(self.path)
        torn = bool(data) and not data.endswith(b"\n")
        bad = changed = 0
        # "\n" only: str.splitlines would also split a record at U+2028, U+0085, \x1c, ...
        for raw in data.decode("utf-8", errors="replace").split("\n"):
            if not raw.strip():
                continue
            self._lines_in_file += 1
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError):
                bad += 1
                continue
            checked = self.check_record(entry)
            if checked is None:
                bad += 1
                continue
            if checked is not entry:
                changed += 1
                raw = json.dumps(checked, ensure_ascii=False, default=str)
            self._keep(checked, raw + "\n")
        if bad:
            log.warning(
                "%s: skipped %d record(s) that could not be read (a torn write or a bad "
                "sender's record); the rest of the history is kept",
                self.path,
                bad,
            )
        return torn or bad > 0 or changed > 0

    def check_record(self, entry: Any) -> dict[str, Any] | None:
        """The record as it may be used (possibly a corrected copy), or None to skip it."""
        if not isinstance(entry, dict):
            return None
        record = entry
        received = record.get("received")
        if received is not None and (
            isinstance(received, bool)
            or not isinstance(received, (int, float))
            or not math.isfinite(received)
        ):
            return None
        url = record.get("url")
        if url is not None and safe_url(url, self.url_prefixes) is None:
            record = {k: v for k, v in record.items() if k != "url"}
            record["extra"] = {**_dict(record.get("extra")), "url_rejected": str(url)[:200]}
        if received is not None and "time" in record:
            moment = parse_time(record["time"])
            if moment is None or abs(moment - received) > SANE_TIME_S:
                record = {**record, "time": received}
                record["extra"] = {**_dict(record.get("extra")), "time_raw": _short(entry["time"])}
        try:
            alert = Alert.from_record(record, self.url_prefixes)
            alert.headline()
            alert.body()
        except Exception:  # a record this version cannot use must not stop the app
            return None
        return record

    def _keep(self, entry: dict[str, Any], line: str) -> None:
        kept = self._flood if entry.get("flood") else self._lines
        kept.append((next(self._seq), line))

    def _in_order(self) -> list[str]:
        """Every kept line, oldest first."""
        return [line for _, line in heapq.merge(self._lines, self._flood)]

    def append(self, entry: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(entry).decode() + "\n"
        except TypeError:  # a value orjson cannot write (e.g. a huge int): never lose the alert
            line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        if self.read_only:
            raise RuntimeError("this alert history was opened read-only")
        self._keep(entry, line)
        self.appended += 1
        if self._file is None:
            return  # in memory only (self.problem says why)
        try:
            self._file.write(line)
            self._lines_in_file += 1
            if self._lines_in_file >= 2 * self.limit:
                self._compact()
        except OSError as exc:
            self._fail("write", exc)

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                self._fail("write", exc)
        self.shown.flush()  # after the alerts: a mark never reaches the OS before its alert

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | OPEN_FLAGS, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(self._in_order())
        if self._file is not None:
            self._file.close()
            self._file = None
        os.replace(tmp, self.path)
        self._file = self._open_append()
        self._lines_in_file = len(self)
        self.shown.keep_only(self.ids())  # bounded with the history

    def ids(self) -> list[str]:
        """The ids of the alerts the history holds (those that have one), oldest first."""
        found = []
        for line in self._in_order():
            alert_id = json.loads(line).get("id")
            if isinstance(alert_id, str):
                found.append(alert_id)
        return found

    def mark_shown(self, ids: Sequence[str]) -> None:
        """These alerts were told (written with the next flush, after the alerts' own lines)."""
        self.shown.mark(ids)
        # Compaction bounds the marks with the file; a history kept in memory only (its file
        # failed) never compacts, so its marks are bounded here with what it still holds.
        if len(self.shown) > 2 * self.limit:
            self.shown.keep_only(self.ids())

    def unshown(self, since: float) -> list[dict[str, Any]]:
        """The alerts received at or after `since` that were kept but never marked told
        (the process died between the two), oldest first."""
        if self.read_only:
            raise RuntimeError("this alert history was opened read-only: its marks are not read")
        found = []
        for line in self._in_order():
            entry = json.loads(line)
            alert_id, received = entry.get("id"), entry.get("received")
            if (
                isinstance(alert_id, str)
                and alert_id not in self.shown
                and isinstance(received, (int, float))
                and received >= since
            ):
                found.append(entry)
        return found

    def recent(self, count: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        newest = self._in_order()[::-1]
        if count is not None:
            newest = newest[:count]
        return [json.loads(line) for line in newest]

    def __len__(self) -> int:
        return len(self._lines) + len(self._flood)

    def clear(self) -> None:
        if self.read_only:
            raise RuntimeError("this alert history was opened read-only")
        self._lines.clear()
        self._flood.clear()
        self._lines_in_file = 0
        self.shown.clear()
        if self._file is None:
            return
        try:
            self._file.close()
            self._file = None
            os.truncate(self.path, 0)
            self._file = self._open_append()
        except OSError as exc:
            self._fail("clear", exc)

    def close(self) -> None:
        self.shown.close()
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:  # e.g. a full disk at the last flush: said, not raised
                self._file = None
                self._fail("write", exc)
            self._file = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> Any:
    return value if isinstance(value, (int, float)) else str(value)[:100]
