"""Where each container's shipping stands: the stamp and rank of its last line Kafka took.

One small JSON file per container id in logtray's state folder: a container restarted keeps
its id and reads on from there; one recreated under the same name has a new id and starts
anew. The engine's `since` is inclusive and only whole seconds are asked for, so the lines of
that second come again: `after` keeps those past the position, lines of the very same stamp
by their rank (their order in the engine's log), so a line at the boundary is neither lost
nor sent twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from logtray.stack.ship.stamped import NS

# Container ids are hex; anything else is not used as a file name.
_ID = re.compile(r"^[0-9a-f]{12,64}$")
# A file bigger than this is not one of ours.
_MAX_FILE = 4096


@dataclass(frozen=True, order=True)
class Position:
    ns: int
    rank: int

    def since(self) -> int:
        """The engine's `since` (whole seconds, inclusive) that re-reads this line's second."""
        return max(1, self.ns // NS)


def after(position: Position | None, ns: int, rank: int) -> bool:
    """Whether the line (ns, rank) comes after `position` (always, with no position)."""
    return position is None or (ns, rank) > (position.ns, position.rank)


class PositionStore:
    """The position files in `folder` (created on first save)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, container_id: str) -> Path | None:
        return self.folder / f"{container_id}.json" if _ID.match(container_id) else None

    def load(self, container_id: str) -> Position | None:
        path = self._path(container_id)
        if path is None:
            return None
        try:
            with path.open("rb") as file:
                data = json.loads(file.read(_MAX_FILE + 1)[:_MAX_FILE])
            ns, rank = int(data["ns"]), int(data["rank"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or not ours: the container starts from its beginning
        if ns < 0 or rank < 0:
            return None
        return Position(ns, rank)

    def save(self, container_id: str, position: Position, name: str = "") -> None:
        path = self._path(container_id)
        if path is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"ns": position.ns, "rank": position.rank, "name": name[:200], "at": time.time()}
        # Written whole and renamed: a crash leaves the old position or the new, never half.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".pos-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def prune(self, keep: set[str]) -> None:
        """Remove the positions of containers that no longer exist."""
        with contextlib.suppress(OSError):
            for path in self.folder.glob("*.json"):
                if path.stem not in keep:
                    with contextlib.suppress(OSError):
                        path.unlink()
