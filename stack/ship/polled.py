"""Reading a Podman container's log by repeated reads to its end instead of one followed stream.

Podman's followed log stream can skip a line (seen once in 40 followed restarts: the line is
in the log, and a later read returns it), and Podman stamps whole seconds, so nothing in the
followed stream tells that a line is missing. A read that is not followed is whole: it
returns the file's lines up to its end. So a Podman container is read by polls: each asks for
the lines since the whole second of the last line read (`since` is inclusive) and `ReadMark`
keeps what was read, the last line and the digests of its second's lines, so that each line
is taken once whichever reads return it.

Podman reads the log file from its start to find the lines `since` asks for, which costs
as much as the log is long; with `tail` it reads only the file's end, `tail` lines back
(before it applies `since`). So after the first poll (whole: it may recover a line the
previous reader missed) a poll asks for the last lines, twice those of the last read it will
return again and at least `TAIL_FIRST`: when fewer come than were asked for, the read is
whole; when as many, lines may have been cut before them (`Cut`), and the poll asks again for
8 times more, past `TAIL_MAX` for all. (Whether its first line is one already read cannot
tell: a line and its twin, printed in the same second, are alike.) And once the engine's
clock (its answer's `Date`) is `CLOSED_S` seconds past a second, a whole read had all its
lines: later reads ask `since` a later second, so a quiet container after a flood costs a
read of a few lines, not of the flood's last second again and again.

A read can end with a line Podman met half written (its reader passes what the file holds
when it meets the end; its tail reader fails with a 500 instead, and the poll is made again):
the log's last line is taken only when the next read returns it alike, a poll later (a line
is written at once, so by then it is whole), or when the read began after the container
stopped.

Pure: the shipper makes the requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from logtray.stack.ship.positions import Position, Resume, digest
from logtray.stack.ship.stamped import NS, Ranker, Stamped, parse_stamp

# A poll after lines came, and the longest pause a quiet container waits (doubling).
POLL_MIN_S = 0.25
POLL_MAX_S = 1.0
# The fewest lines a poll asks for; times 8 after each cut, a whole read past TAIL_MAX. A
# tailed read is held whole before its lines are taken (it may be cut): at most TAIL_BYTES.
TAIL_FIRST = 512
TAIL_MAX = 1 << 15
TAIL_BYTES = 4 * 1024 * 1024
# Seconds of the engine's clock after which a second's lines are all in its log: the engine
# stamps a line as it writes it; the margin covers a read begun before its answer's `Date`.
CLOSED_S = 2
# Digests kept of the mark's second; past this the rank decides (exact: whole reads agree on a
# second's lines and their order).
MAX_READ_SEEN = 8192


class Cut(Exception):
    """The tail asked for may have left out lines not read yet: ask for more (`too_big`: the
    tail held more than TAIL_BYTES, read the whole log instead)."""

    def __init__(self, too_big: bool = False) -> None:
        super().__init__("the tail may have left lines out")
        self.too_big = too_big


def first_tail(again: int) -> int:
    """The tail of a poll's first read: twice the lines of the last read it returns again
    (`Read.again`), and never fewer than TAIL_FIRST."""
    return max(TAIL_FIRST, 2 * again)


def next_tail(tail: int | None) -> int | None:
    """The tail to ask for after a cut: 8 times more, then the whole log (None)."""
    if tail is None or tail * 8 > TAIL_MAX:
        return None
    return tail * 8


def whole(returned: int, tail: int | None) -> bool:
    """Whether a read that returned `returned` lines had every line since its second: fewer
    than its tail (none left out before them), or no tail."""
    return tail is None or returned < tail


class ReadMark:
    """How far the reads of one container's log have come: the last line read (its stamp
    and its rank among its stamp's lines) and the digests of its second's lines read."""

    def __init__(self, position: Position | None) -> None:
        self.ns: int | None = None if position is None else position.ns
        self.rank = 0 if position is None else position.rank
        self.seen: list[str] | None = (
            [] if position is None else None if position.seen is None else list(position.seen)
        )
        # The last line of the last read, not taken yet (Podman may have met it half written):
        # its bytes and its rank among its stamp's lines (a twin's half is not it).
        self.pending: tuple[bytes, int] | None = None
        # Every line of the seconds before this one was read (the engine's clock had passed
        # them when a whole read began): reads need not ask for them again.
        self.floor = 0

    def since(self) -> int | None:
        """The `since` of the next read (None: from the log's start)."""
        if self.ns is None and not self.floor:
            return None
        return max(1, self.floor, 0 if self.ns is None else self.ns // NS)

    def closed(self, engine_second: int | None) -> None:
        """After a whole read the engine answered at `engine_second` (its clock, the `Date` of
        its answer): the lines of seconds `CLOSED_S` before it were all in the log when the
        read began, so they were all read; a line held (`pending`) is asked for again."""
        if engine_second is None:
            return
        floor = engine_second - CLOSED_S
        if self.pending is not None:
            parsed = parse_stamp(self.pending[0])
            floor = min(floor, parsed[0] // NS if parsed is not None else 0)
        self.floor = max(self.floor, floor)

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
    """One whole read of the log from the mark's second on: the lines not read before, each
    with its rank in the log; it moves the mark. The log's last line may be one Podman met
    half written: it is taken when the next read returns it alike, or when the read began
    after the container stopped (`running` False), not before."""

    def __init__(self, mark: ReadMark, running: bool = True) -> None:
        self.mark = mark
        self.running = running
        self.returned = 0  # stamped lines the read returned, new or not
        self._per_second: dict[int, int] = {}  # of the read's last few seconds
        self._skip = Resume(mark.position())
        self._ranker = Ranker()
        self._second = None if mark.ns is None else mark.ns // NS

    def lines(self, raws: Iterable[bytes]) -> Iterator[Stamped]:
        """The new lines among the read's (the engine's stamped lines), in order."""
        last: tuple[bytes, int, str] | None = None
        for raw in raws:
            parsed = parse_stamp(raw)
            if parsed is None:
                continue
            self.returned += 1
            second = parsed[0] // NS
            self._per_second[second] = self._per_second.get(second, 0) + 1
            if len(self._per_second) > 8:
                del self._per_second[min(self._per_second)]
            if last is not None:
                line, fresh = self._judge(last[1], last[2])
                if fresh:
                    self.mark.take(line)
                    yield line
            last = (raw, *parsed)
        if last is None:
            return
        line, fresh = self._judge(last[1], last[2])
        if not fresh:
            self.mark.pending = None  # read and taken before: it was whole then
        elif self.running and (last[0], line.rank) != self.mark.pending:
            self.mark.pending = (last[0], line.rank)
        else:
            self.mark.pending = None
            self.mark.take(line)
            yield line

    def again(self) -> int:
        """How many of this read's lines the next read returns again (from the mark's
        `since`): what its tail must at least cover."""
        since = self.mark.since()
        if since is None or not self._per_second or since < min(self._per_second):
            return self.returned
        return sum(n for second, n in self._per_second.items() if second >= since)

    def _judge(self, ns: int, text: str) -> tuple[Stamped, bool]:
        """The line with its rank in the log, and whether it was not read before."""
        line = self._ranker.stamp(ns, text)
        if self._skip.new(line.ns, line.rank, line.text):
            return line, True
        if self._second == ns // NS and line.rank > self.mark.rank:
            # A whole read's ranks are the log's: after a line an earlier reader missed, the
            # mark's line is one further.
            self.mark.rank = line.rank
        return line, False
