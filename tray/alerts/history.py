"""The persisted alert history: every accepted alert, newest last, bounded.

An append-only JSON-lines file in the user data dir. Appends are buffered and flushed once per
loop turn by the router; when the file holds twice the bound it is rewritten with the newest
`limit` lines (atomically, via a temporary file), so it never grows without end. Entries are
kept serialised in memory: appends happen at flood rates, reads (the menu) rarely.

A flood cannot evict the others' alerts: records of a flood (the policy marks them with the
flood's pattern in `flood`) are kept apart, at most half of `limit` of them (the oldest go
first), beside the last `limit` of all other records.

Loading never stops the app: a record that cannot be read is skipped (one warning for all),
a sender's `url` is checked again against the allowed prefixes (tray.links), an alert time
more than a day from its receipt is replaced by the receipt time (the raw value kept as
`time_raw`), and a torn last line (a crash mid-write) is cut off by rewriting the file, so
the next append starts on a line of its own.
"""

from __future__ import annotations

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
        the file under it (its appends would go to the replaced file)."""
        self.path = path
        self.limit = limit
        self.url_prefixes = tuple(url_prefixes)
        # (sequence number, serialised line): the others' records, and the floods' apart
        self._lines: deque[tuple[int, str]] = deque(maxlen=limit)
        self._flood: deque[tuple[int, str]] = deque(maxlen=max(1, limit // 2))
        self._seq = itertools.count()
        self._lines_in_file = 0
        self.appended = 0  # entries written by this process (the benchmark checks none is lost)
        rewrite = self._load()
        self._file: IO[str] | None = None
        if read_only:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        if rewrite:
            self._compact()

    def _load(self) -> bool:
        """Read the file; True when it must be rewritten (skipped, changed or torn lines)."""
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        torn = bool(data) and not data.endswith(b"\n")
        bad = changed = 0
        for raw in data.decode("utf-8", errors="replace").splitlines():
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
        if self._file is None:
            raise RuntimeError("this alert history was opened read-only")
        self._keep(entry, line)
        self._file.write(line)
        self._lines_in_file += 1
        self.appended += 1
        if self._lines_in_file >= 2 * self.limit:
            self._compact()

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(self._in_order())
        if self._file is not None:
            self._file.close()
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")
        self._lines_in_file = len(self)

    def recent(self, count: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        newest = self._in_order()[::-1]
        if count is not None:
            newest = newest[:count]
        return [json.loads(line) for line in newest]

    def __len__(self) -> int:
        return len(self._lines) + len(self._flood)

    def clear(self) -> None:
        if self._file is None:
            raise RuntimeError("this alert history was opened read-only")
        self._lines.clear()
        self._flood.clear()
        self._file.close()
        self.path.write_text("", encoding="utf-8")
        self._file = self.path.open("a", encoding="utf-8")
        self._lines_in_file = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> Any:
    return value if isinstance(value, (int, float)) else str(value)[:100]
