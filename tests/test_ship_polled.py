"""Reading a Podman log by polls (logtray.stack.ship.polled), pure: whatever the log, whenever
the polls come, however short their tails, and whatever half-written line a read ends with,
each line is taken once, whole, in the log's order, with its rank in the log; a line the
earlier followed stream missed is taken at the first poll."""

from __future__ import annotations

import datetime
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.stack.ship.polled import CLOSED_S, Read, ReadMark, first_tail, next_tail, whole
from logtray.stack.ship.positions import Position, digest, moved
from logtray.stack.ship.stamped import NS, Ranker, Stamped

BASE = 1_796_000_000


def ranked(log: list[tuple[int, str]]) -> list[Stamped]:
    """The log as the engine has it: whole-second stamps (Podman's), ranks within a stamp."""
    ranker = Ranker()
    return [ranker.stamp((BASE + s) * NS, text) for s, text in log]


def serve(log: list[Stamped], since: int | None, tail: int | None) -> list[Stamped]:
    """What the engine answers: the lines from the whole second `since`, the last `tail`."""
    lines = [x for x in log if since is None or x.ns // NS >= since]
    return lines if tail is None else lines[-tail:] if tail else []


def raw(line: Stamped) -> bytes:
    """A line as Podman's compatible API sends it: its stamp to the second, a blank, the text."""
    when = datetime.datetime.fromtimestamp(line.ns // NS, datetime.timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%SZ} {line.text}".encode()


def poll(
    log: list[Stamped],
    mark: ReadMark,
    tail: int | None,
    engine_second: int | None,
    running: bool = True,
) -> tuple[list[Stamped], int]:
    """One poll as the shipper makes it: a tailed read, longer after each cut; the lines
    taken and how many the next read returns again."""
    while True:
        served = serve(log, mark.since(), tail)
        if whole(len(served), tail):
            break
        tail = next_tail(tail)
    read = Read(mark, running)
    taken = list(read.lines(raw(x) for x in served))
    assert read.returned == len(served)
    mark.closed(engine_second)
    again = read.again()
    assert again == len(serve(log, mark.since(), None)), "what the next read returns again"
    return taken, again


@settings(max_examples=1000, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["ab", "b", "ab c", "  at x", ""])),
        min_size=1,
        max_size=80,
    ),
    data=st.data(),
)
def test_polls_take_each_line_once_in_order_with_its_rank(steps, data) -> None:
    second, log_spec = 0, []
    for gap, text in steps:
        second += gap
        log_spec.append((second, text))
    log = ranked(log_spec)
    # Where the previous reader (a followed stream) stopped, and the lines of its last second
    # it missed: Kafka's position then holds the digests of that second's lines it took.
    start = data.draw(st.integers(0, len(log)), label="start")
    position: Position | None = None
    missed: set[int] = set()
    if start:
        last = log[start - 1].ns // NS
        in_last = [i for i in range(start) if log[i].ns // NS == last]
        missed = set(data.draw(st.lists(st.sampled_from(in_last[:-1] or [-1]), unique=True)))
        followed = Ranker()
        kept = [log[i] for i in range(start) if i not in missed]
        lines = []
        for line in kept:
            again = followed.stamp(line.ns, line.text)
            lines.append((again.ns, again.rank, digest(again.ns, again.text)))
        position = moved(None, lines)
    expected = [log[i] for i in sorted(missed - {-1}) + list(range(start, len(log)))]
    moments = sorted(data.draw(st.lists(st.integers(start, len(log)), max_size=6), label="at"))
    tail_first = data.draw(st.integers(1, 6), label="tail")
    small = data.draw(st.booleans(), label="few digests kept")
    taken: list[Stamped] = []
    with (
        mock.patch("logtray.stack.ship.polled.MAX_READ_SEEN", 3 if small else 8192),
        mock.patch("logtray.stack.ship.polled.TAIL_FIRST", tail_first),
    ):
        mark = ReadMark(position)
        tail: int | None = None  # the first poll reads whole
        written = 0  # the log's lines written whole so far (a read never sees fewer)
        for at in moments:
            # The engine may be writing the next line as it is read: the read ends with its
            # first bytes (Podman's reader passes a line it met half written). A line is
            # written at once: by the next read, a poll later, it is whole.
            at = max(at, written)
            now = log[:at]
            if at < len(log) and len(log[at].text) > 1 and data.draw(st.booleans()):
                half = data.draw(st.integers(1, len(log[at].text) - 1), label="half")
                now = [*now, Stamped(log[at].ns, 0, log[at].text[:half])]
                written = at + 1
            written = max(written, at)
            # The engine's clock: a line stamped CLOSED_S seconds before it is in the log.
            latest = log[at].ns // NS + CLOSED_S if at < len(log) else BASE + 400
            engine = data.draw(st.none() | st.integers(BASE - 5, latest), label="date")
            got, again = poll(now, mark, tail, engine)
            taken += got
            tail = first_tail(again)
        # The last read, begun after the container stopped: the log is whole.
        got, _ = poll(log, mark, tail, None, running=False)
        taken += got
    if missed - {-1}:
        # Lines alike in stamp and text are one record whichever copy is taken: a missed
        # line's twin that was taken may stand for it, so only the records are compared.
        assert sorted((x.ns, x.text) for x in taken) == sorted((x.ns, x.text) for x in expected)
    else:
        assert taken == expected


def test_the_tail_grows_eightfold_then_the_whole_log_is_read() -> None:
    tails: list[int | None] = [first_tail(0)]
    while tails[-1] is not None:
        tails.append(next_tail(tails[-1]))
    assert tails == [512, 4096, 32768, None]
    assert first_tail(3000) == 6000, "twice what the last read returned"
    assert whole(511, 512) and not whole(512, 512) and whole(10**6, None)
