"""Docker's log stream with `timestamps=True`, into bounded, stamped lines (pure).

The engine prefixes every line with the time it received it, RFC 3339 with nanoseconds
("2026-12-07T13:34:10.123456789Z text"); Podman's compatible API does the same. The stream's
chunks are not lines (a TTY container's are arbitrary bytes), so `LineSplitter` joins and
splits them, and cuts a line longer than its bound (the rest of that line is dropped and the
line is marked cut).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

NS = 1_000_000_000
CUT_MARK = " …[cut]"


@dataclass(frozen=True)
class Stamped:
    """One line as the engine stamped it: `ns` since the epoch, `rank` its place among the
    stream's lines of the very same stamp (1, 2, …), and its text."""

    ns: int
    rank: int
    text: str


class LineSplitter:
    """Chunks in, complete lines out, each at most `max_bytes` (longer ones are cut)."""

    def __init__(self, max_bytes: int = 65536) -> None:
        self.max_bytes = max_bytes
        self._held = bytearray()
        self._cutting = False  # inside a line already cut: drop up to its end

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            self._take(chunk[start:end], out, complete=True)
            start = end + 1
        self._take(chunk[start:], out, complete=False)
        return out

    def flush(self) -> list[bytes]:
        """The last line when the stream ends without a newline."""
        out: list[bytes] = []
        if self._held:
            out.append(bytes(self._held))
        self._held.clear()
        self._cutting = False
        return out

    def _take(self, piece: bytes, out: list[bytes], complete: bool) -> None:
        if self._cutting:
            self._cutting = not complete
            return
        room = self.max_bytes - len(self._held)
        if len(piece) > room:
            self._held += piece[:room]
            out.append(bytes(self._held) + CUT_MARK.encode())
            self._held.clear()
            self._cutting = not complete
            return
        self._held += piece
        if complete:
            out.append(bytes(self._held))
            self._held.clear()


_second_cache: dict[str, int] = {}


def parse_stamp(raw: bytes) -> tuple[int, str] | None:
    """(ns since the epoch, text) of one stamped line; None when it has no valid stamp."""
    head, sep, rest = raw.partition(b" ")
    if not sep and not head.endswith(b"Z"):
        return None
    try:
        stamp = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    ns = stamp_ns(stamp)
    if ns is None:
        return None
    text = rest.decode("utf-8", "replace").rstrip("\r")
    return ns, text


def stamp_ns(stamp: str) -> int | None:
    """RFC 3339 with up to nanoseconds, in UTC ("Z") or with an offset, to ns; None if not one."""
    if len(stamp) == 30 and stamp[19] == "." and stamp[29] == "Z":
        # What Docker and Podman send: nanoseconds in UTC; one lookup for the second.
        seconds = _second_cache.get(stamp[:19])
        frac = stamp[20:29]
        if seconds is not None and frac.isdigit():
            return seconds * NS + int(frac)
    if len(stamp) < 20 or len(stamp) > 40 or stamp[10] != "T":
        return None
    whole, dot, rest = stamp.partition(".")
    if dot:
        digits = rest.rstrip("Z")
        zone = "Z" if rest.endswith("Z") else ""
        i = 0
        while i < len(digits) and digits[i].isdigit():
            i += 1
        frac, zone = digits[:i], zone or digits[i:]
        if not frac or len(frac) > 9:
            return None
    else:
        frac, zone = "", ("Z" if whole.endswith("Z") else whole[19:])
        whole = whole[:19]
    zone = "+00:00" if zone in ("Z", "") else zone
    key = whole + zone
    seconds = _second_cache.get(key)
    if seconds is None:
        try:
            when = datetime.datetime.fromisoformat(key)
        except ValueError:
            return None
        if when.tzinfo is None or not 1970 <= when.year <= 9999:
            return None
        seconds = int(when.timestamp())
        if len(_second_cache) > 4096:
            _second_cache.clear()
        _second_cache[key] = seconds
        if zone == "+00:00":
            _second_cache[whole] = seconds  # the fast path's key
    return seconds * NS + int(frac.ljust(9, "0") or 0)


class Ranker:
    """Gives each line its rank among the lines of the same stamp, in stream order."""

    def __init__(self) -> None:
        self._ns = -1
        self._rank = 0

    def stamp(self, ns: int, text: str) -> Stamped:
        if ns == self._ns:
            self._rank += 1
        else:
            self._ns, self._rank = ns, 1
        return Stamped(ns, self._rank, text)


class Demuxer:
    """The payload of Docker's multiplexed stream (a non-TTY container's log): frames of an
    8-byte header (stream, 0, 0, 0, size as big-endian u32) and that many bytes, taken apart
    from chunks of any size. The payload is passed on as it comes (a frame is never held
    whole, whatever size its header claims)."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._left = 0  # payload bytes of the current frame still to come

    def feed(self, chunk: bytes) -> bytes:
        out = bytearray()
        view = memoryview(chunk)
        at, end = 0, len(chunk)
        while at < end:
            if self._left:
                take = min(self._left, end - at)
                out += view[at : at + take]
                self._left -= take
                at += take
                continue
            need = 8 - len(self._header)
            self._header += view[at : at + need]
            at += min(need, end - at)
            if len(self._header) == 8:
                self._left = int.from_bytes(self._header[4:8], "big")
                self._header.clear()
        return bytes(out)
