"""Reading a Podman container's log by repeated reads to its end instead of one followed stream.

Podman's followed log stream can skip a line (its file tailer met the line half written; a
later read returns it), and Podman stamps whole seconds, so nothing in the followed stream
tells that a line is missing. A read that is not followed is whole: it returns the file's
lines up to its end. So a Podman container is read by polls: each asks for the lines since
the whole second of the last line read (`since` is inclusive) and `ReadMark` keeps what was
read, the last line and the digests of its second's lines, so that each line is taken once
whichever reads return it.

Podman reads the log file from its start to find the lines `since` asks for, which costs
as much as the log is long; with `tail` it reads only the file's end. So after the first
poll (whole: it may recover a line the previous reader missed) a poll asks for the last
`TAIL_FIRST` lines: when the first of them is one already read, every line after the mark
is among them (a read is whole up to the file's end, so lines before an old one are old);
when it is new, lines may have been cut before it (`Cut`) and the poll asks again for more.
Pure: the shipper makes the requests.
"""

from __future__ import annotations

from logtray.stack.ship.positions import Position, Resume, digest
from logtray.stack.ship.stamped import NS, Ranker, Stamped

# A poll after lines came, and the longest pause a quiet container waits (doubling).
POLL_MIN_S = 0.25
POLL_MAX_S = 1.0
# The last lines a poll asks for first; times 8 after each cut, a whole read past TAIL_MAX.
TAIL_FIRST = 512
TAIL_MAX = 1 << 18
# Digests kept of the mark's second; past this the rank decides and polls read whole (exact:
# whole reads agree on a second's lines and their order).
MAX_READ_SEEN = 8192


class Cut(Exception):
    """The tail asked for may have left out lines not read yet: ask for more."""


def next_tail(tail: int | None) -> int | None:
    """The tail to ask for after a cut: 8 times more, then the whole log (None)."""
    if tail is None or tail * 8 > TAIL_MAX:
        return None
    return tail * 8


class ReadMark:
    """How far the reads of one container's log have come: the last line read (its stamp
    and its rank among its stamp's lines) and the digests of its second's lines read."""

    def __init__(self, position: Position | None) -> None:
        self.ns: int | None = None if position is None else position.ns
        self.rank = 0 if position is None else position.rank
        self.seen: list[str] | None = (
            [] if position is None else None if position.seen is None else list(position.seen)
        )

    def since(self) -> int | None:
        """The `since` of the next read (None: from the log's start)."""
        return None if self.ns is None else max(1, self.ns // NS)

    def exact(self) -> bool:
        """Whether the digests of the mark's second are known (a tailed read needs them)."""
        return self.seen is not None

    def position(self) -> Position | None:
        if self.ns is None:
            return None
        return Position(self.ns, self.rank, None if self.seen is None else tuple(self.seen))

    def take(self, line: Stamped) -> None:
        key = digest(line.ns, line.text)
        if self.ns is not None and line.ns // NS == self.ns // NS:
            if (line.ns, line.rank) > (self.ns, self.rank):
                self.ns, self.rank = line.ns, line.rank
            if self.seen is not None:
                self.seen.append(key)
                if len(self.seen) > MAX_READ_SEEN:
                    self.seen = None
        else:
            self.ns, self.rank, self.seen = line.ns, line.rank, [key]


class Read:
    """One read of the log from the mark's second on (`tailed`: its last lines only): the
    lines not read before, each with its rank in the whole log; it moves the mark."""

    def __init__(self, mark: ReadMark, tailed: bool) -> None:
        if tailed and not mark.exact():
            raise ValueError("a tailed read needs the digests of the mark's second")
        self.mark = mark
        self.tailed = tailed
        self._skip = Resume(mark.position())
        self._ranker = Ranker()
        self._second = None if mark.ns is None else mark.ns // NS
        self._base = mark.rank  # lines of the mark's second read before this read
        self._old = 0  # lines of the mark's second this read returned again
        self._first = True

    def line(self, ns: int, text: str) -> Stamped | None:
        """The line as the log has it if it was not read before (None: it was); raises `Cut`
        when the tail may have left out lines before it."""
        line = self._ranker.stamp(ns, text)
        fresh = self._skip.new(line.ns, line.rank, line.text)
        if self._first:
            self._first = False
            if fresh and self.tailed:
                raise Cut
        same = self._second is not None and ns // NS == self._second
        if not fresh:
            if same:
                self._old += 1
                if not self.tailed and line.rank > self.mark.rank:
                    # A whole read's ranks are the log's: a line an earlier reader missed
                    # puts the mark's line one further.
                    self.mark.rank = line.rank
            return None
        if same and self.tailed:
            # The tail began inside the mark's second, after lines of it this read did not
            # return: those the mark counts and this read did not return again come first.
            line = Stamped(line.ns, line.rank + self._base - self._old, line.text)
        self.mark.take(line)
        return line
