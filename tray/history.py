"""The persisted alert history: every accepted alert, newest last, bounded.

An append-only JSON-lines file in the user data dir. Appends are buffered and flushed once per
loop turn by the router; when the file holds twice the bound it is rewritten with the newest
`limit` lines (atomically, via a temporary file), so it never grows without end. Entries are
kept serialised in memory: appends happen at flood rates, reads (the menu) rarely.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger(__name__)


class AlertHistory:
    def __init__(self, path: Path, limit: int = 1000) -> None:
        self.path = path
        self.limit = limit
        self._lines: deque[str] = deque(maxlen=limit)
        self._lines_in_file = 0
        self.appended = 0  # entries written by this process (the benchmark checks none is lost)
        self._load()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def _load(self) -> None:
        if not self.path.exists():
            return
        bad = 0
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                self._lines_in_file += 1
                try:
                    entry = json.loads(line)
                except ValueError:
                    bad += 1  # a torn last line after a power cut; keep the rest
                    continue
                if isinstance(entry, dict):
                    self._lines.append(line if line.endswith("\n") else line + "\n")
        if bad:
            log.warning("%s: skipped %d unreadable line(s)", self.path, bad)

    def append(self, entry: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(entry).decode() + "\n"
        except TypeError:  # a value orjson cannot write (e.g. a huge int): never lose the alert
            line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        self._lines.append(line)
        self._file.write(line)
        self._lines_in_file += 1
        self.appended += 1
        if self._lines_in_file >= 2 * self.limit:
            self._compact()

    def flush(self) -> None:
        self._file.flush()

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(self._lines)
        self._file.close()
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")
        self._lines_in_file = len(self._lines)

    def recent(self, count: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        newest = list(reversed(self._lines))
        if count is not None:
            newest = newest[:count]
        return [json.loads(line) for line in newest]

    def __len__(self) -> int:
        return len(self._lines)

    def clear(self) -> None:
        self._lines.clear()
        self._file.close()
        self.path.write_text("", encoding="utf-8")
        self._file = self.path.open("a", encoding="utf-8")
        self._lines_in_file = 0

    def close(self) -> None:
        self._file.close()
