"""Where each container's shipping stands: the stamp and rank of its last line Kafka took,
and a digest of each line Kafka took in that line's whole second.

One small JSON file per container id in logtray's state folder: a container restarted keeps
its id and reads on from there; one recreated under the same name has a new id and starts
anew. The engine's `since` is inclusive and only whole seconds are asked for, so the lines of
that second come again: `Resume` skips those Kafka took, by their digests. Ranks alone (the
order of a second's lines in one stream) are not enough: Podman stamps whole seconds, and its
followed stream can miss a line it later serves when asked again (its file tailer drops a line
it met half written), so the ranks of the two reads of a second differ. The rank decides only
when the digests are not known (a second of more than `MAX_SEEN` lines, an older file).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from logtray.stack.ship.stamped import NS, stamp_ns

# Container ids are hex; anything else is not used as a file name.
_ID = re.compile(r"^[0-9a-f]{12,64}$")
# Digests kept for the position's second; past this the rank decides (see the module's doc).
MAX_SEEN = 2048
_DIGEST = re.compile(r"^[0-9a-f]{16}$")
# A file bigger than this is not one of ours.
_MAX_FILE = 64 * 1024


def digest(ns: int, text: str) -> str:
    """A line's identity among the lines of its second, its stamp and text (8 bytes of BLAKE2b,
    hex): two lines alike in both make the same record, whichever of them is shipped."""
    data = f"{ns} {text}".encode("utf-8", "replace")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, order=True)
class Position:
    ns: int
    rank: int
    # Digests of the lines Kafka took whose stamp is in the second of `ns`, in order; None when
    # not known (more than MAX_SEEN of them, or a file written before they were kept).
    seen: tuple[str, ...] | None = field(default=None, compare=False)

    def since(self) -> int:
        """The engine's `since` (whole seconds, inclusive) that re-reads this line's second."""
        return max(1, self.ns // NS)

    @classmethod
    def first(cls, started_at: str, shipping_ns: int, look_back_s: float) -> Position:
        """Where a container with no position starts. `started_at` is the engine's time of its
        start (RFC 3339; anything else: not known). When it already ran as shipping began
        (`shipping_ns`): `look_back_s` before that. When it started later: `look_back_s`
        before its start (at least a second: the engine may stamp a first line a hair before
        it records the start), so its whole run is shipped. The position holds no line of its
        second: every line of that second is new (whole seconds, as the engine's `since`),
        none of an earlier one."""
        started = stamp_ns(started_at[:40])
        look_back = int(look_back_s * NS)
        if started is not None and started >= shipping_ns:
            cutoff = started - max(look_back, NS)
        else:
            cutoff = shipping_ns - look_back
        return cls(max(NS, cutoff), 0, ())


def after(position: Position | None, ns: int, rank: int) -> bool:
    """Whether the line (ns, rank) comes after `position` (always, with no position)."""
    return position is None or (ns, rank) > (position.ns, position.rank)


def moved(previous: Position | None, lines: list[tuple[int, int, str]]) -> Position | None:
    """The position once Kafka took `lines` ((ns, rank, digest), in order, the last one the
    position's line), after `previous`; None with no lines."""
    if not lines:
        return None
    ns, rank, _ = lines[-1]
    if previous is not None and (previous.ns, previous.rank) > (ns, rank):
        if previous.ns // NS != ns // NS:
            return previous
        # A line the last read missed, served again (see the module's doc): its digest joins
        # the second's, the position stays at the later line.
        ns, rank = previous.ns, previous.rank
    second = ns // NS
    same = [d for n, _, d in lines if n // NS == second]
    seen: tuple[str, ...] | None
    if previous is not None and previous.ns // NS == second:
        seen = None if previous.seen is None else previous.seen + tuple(same)
    else:
        seen = tuple(same)
    if seen is not None and len(seen) > MAX_SEEN:
        seen = None
    return Position(ns, rank, seen)


class Resume:
    """Which lines of a stream read again from `position.since()` are new (one per stream)."""

    def __init__(self, position: Position | None) -> None:
        self.position = position
        self._left = (
            collections.Counter(position.seen)
            if position is not None and position.seen is not None
            else None
        )

    def new(self, ns: int, rank: int, text: str) -> bool:
        position = self.position
        if position is None:
            return True
        if ns // NS != position.ns // NS or self._left is None:
            return (ns, rank) > (position.ns, position.rank)
        key = digest(ns, text)
        if self._left[key] > 0:
            self._left[key] -= 1  # the same text twice in one second: each copy once
            return False
        return True


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
        raw = data.get("seen")
        seen = (
            tuple(raw)
            if isinstance(raw, list)
            and len(raw) <= MAX_SEEN
            and all(isinstance(d, str) and _DIGEST.match(d) for d in raw)
            else None
        )
        return Position(ns, rank, seen)

    def save(self, container_id: str, position: Position, name: str = "") -> None:
        path = self._path(container_id)
        if path is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "ns": position.ns,
            "rank": position.rank,
            "seen": None if position.seen is None else list(position.seen),
            "name": name[:200],
            "at": time.time(),
        }
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
