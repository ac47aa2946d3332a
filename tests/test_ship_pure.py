"""The pure parts of shipping containers' logs: which containers, stamped lines, positions.

Everything here comes from a stranger (container names and labels, the bytes of a log
stream, a position file), so the properties are checked on arbitrary input.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.stack.labels import LABEL_STACK
from logtray.stack.ship.choose import MAX_NAME, chosen, service_of
from logtray.stack.ship.config import ShipConfig
from logtray.stack.ship.positions import (
    Position,
    PositionStore,
    Resume,
    digest,
    moved,
)
from logtray.stack.ship.stamped import CUT_MARK, NS, LineSplitter, Ranker, parse_stamp, stamp_ns

labels_st = st.dictionaries(st.text(max_size=30), st.text(max_size=30), max_size=6)


# ---------------------------------------------------------------------------- choosing


def test_the_label_compose_and_names_choose_and_the_stacks_own_only_by_name() -> None:
    config = ShipConfig(compose_projects=("shop",), compose_services=("api",), names=("web-*",))
    assert chosen("/pay", {"logtray.logs": "true"}, config)
    assert not chosen("pay", {"logtray.logs": "yes"}, config)
    assert chosen("x", {"com.docker.compose.project": "shop"}, config)
    assert chosen("x", {"com.docker.compose.service": "api"}, config)
    assert chosen("web-1", {}, config)
    assert not chosen("other", {}, config)
    own = {LABEL_STACK: "logtray", "logtray.logs": "true", "com.docker.compose.project": "shop"}
    assert not chosen("logtray-kafka", own, config)
    assert chosen("logtray-kafka", own, ShipConfig(names=("logtray-*",)))
    # An explicit "no" on the container wins over every way of choosing it.
    assert not chosen("web-1", {"logtray.logs": "false"}, config)
    assert chosen("x", {"team": "a"}, ShipConfig(labels=("team",)))


def test_the_service_name_is_the_label_then_compose_then_the_name() -> None:
    assert service_of("/c1", {"logtray.service": "pay", "com.docker.compose.service": "x"}) == "pay"
    assert service_of("/c1", {"com.docker.compose.service": "api"}) == "api"
    assert service_of("/c1", None) == "c1"
    assert service_of("/", {}) == "container"


@given(st.text(max_size=300), labels_st)
def test_choosing_any_container_never_fails_and_its_service_is_bounded(name, labels) -> None:
    chosen(name, labels, ShipConfig(names=("*a*",), compose_projects=("p",)))
    service = service_of(name, labels)
    assert 0 < len(service) <= MAX_NAME


# ---------------------------------------------------------------------------- stamped lines


def test_dockers_stamps_read_to_the_nanosecond() -> None:
    assert parse_stamp(b"2026-12-07T13:34:10.123456789Z hello\r") == (
        1796650450 * NS + 123456789,
        "hello",
    )
    assert stamp_ns("2026-12-07T13:34:10Z") == 1796650450 * NS
    assert stamp_ns("2026-12-07T14:34:10.5+01:00") == 1796650450 * NS + 500_000_000
    assert parse_stamp(b"no stamp here") is None
    assert parse_stamp(b"2026-13-07T13:34:10.1Z month 13") is None


@given(st.binary(max_size=200))
def test_any_bytes_as_a_stamped_line_never_fail(raw) -> None:
    parsed = parse_stamp(raw)
    if parsed is not None:
        assert parsed[0] >= 0


@given(st.text(max_size=60))
def test_any_text_as_a_stamp_never_fails(text) -> None:
    stamp_ns(text)


@given(
    st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=30),
    st.data(),
)
@settings(max_examples=200)
def test_lines_split_from_any_chunks_are_the_lines_each_bounded(lines, data) -> None:
    limit = 16
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter = LineSplitter(limit)
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += splitter.feed(stream[start:cut])
        start = cut
    out += splitter.flush()
    expected = [line if len(line) <= limit else line[:limit] + CUT_MARK.encode() for line in lines]
    assert out == expected


def test_a_last_line_without_a_newline_comes_at_the_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb") == [b"a"]
    assert splitter.flush() == [b"b"]


# ---------------------------------------------------------------------------- resume


def _engine_since(log: list[tuple[int, str]], since_s: int | None) -> list[tuple[int, str]]:
    """What the engine sends for `since` (inclusive, whole seconds), as Docker does."""
    return [(ns, text) for ns, text in log if since_s is None or ns >= since_s * NS]


@given(
    st.lists(st.integers(0, 3 * NS), min_size=1, max_size=40).map(sorted),
    st.data(),
)
@settings(max_examples=300)
def test_a_stream_resumed_anywhere_ships_each_line_once(stamps, data) -> None:
    """Lines that share a stamp (whole seconds, the same nanosecond) are neither lost nor sent
    twice, wherever the previous run stopped: the ranks of a re-read second are the same."""
    base = 1_796_650_000 * NS
    log = [(base + ns, f"line {i}") for i, ns in enumerate(stamps)]
    # Many lines on the very same stamp.
    if data.draw(st.booleans()):
        log = [(log[0][0], text) for _, text in log]
    stop = data.draw(st.integers(0, len(log)))
    shipped: list[str] = []
    position: Position | None = None
    for run_stop in (stop, len(log)):
        ranker = Ranker()
        seen = _engine_since(log, position.since() if position else None)
        resume = Resume(position)
        for ns, text in seen:
            line = ranker.stamp(ns, text)
            if not resume.new(line.ns, line.rank, line.text):
                continue
            if len(shipped) >= run_stop:
                break
            shipped.append(line.text)
            position = moved(position, [(line.ns, line.rank, digest(line.ns, line.text))])
    assert shipped == [text for _, text in log]


@given(
    st.lists(st.integers(0, 2 * NS), min_size=1, max_size=40).map(sorted),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=40, max_size=40),
    st.data(),
)
@settings(max_examples=300)
def test_a_line_the_followed_stream_missed_is_shipped_once_when_the_second_is_read_again(
    stamps, texts, data
) -> None:
    """Podman stamps whole seconds and its followed stream can miss a line it serves when
    asked again: the re-read ships the missed line and no line twice, even when texts repeat."""
    base = 1_796_650_000 * NS
    whole = data.draw(st.booleans())  # Podman: whole seconds
    log = [
        ((base + ns) // NS * NS if whole else base + ns, f"{texts[i]} {i % 3}")
        for i, ns in enumerate(stamps)
    ]
    missed = set(data.draw(st.lists(st.integers(0, len(log) - 1), max_size=3)))
    stop = data.draw(st.integers(0, len(log)))
    shipped: list[int] = []
    position: Position | None = None
    # The first, followed read misses some lines; the second, since the position, is whole.
    since: int | None = None
    for run, run_stop in (("follow", stop), ("again", len(log))):
        ranker = Ranker()
        since = position.since() if position else None
        read = [
            (i, ns, text)
            for i, (ns, text) in enumerate(log)
            if (since is None or ns >= since * NS) and not (run == "follow" and i in missed)
        ]
        resume = Resume(position)
        for i, ns, text in read:
            line = ranker.stamp(ns, text)
            if not resume.new(line.ns, line.rank, line.text):
                continue
            if len(shipped) >= run_stop:
                break
            shipped.append(i)
            position = moved(position, [(line.ns, line.rank, digest(line.ns, line.text))])
    # What the second read does not cover (before the position's second) stays missed.
    gone = {i for i in missed if since is not None and log[i][0] < since * NS}
    # Lines alike in stamp and text are one record whichever of them is shipped.
    assert sorted(log[i] for i in shipped) == sorted(
        log[i] for i in range(len(log)) if i not in gone
    )


# When shipping began, and the offsets (from it) of a container's start and of its lines.
SHIPPING = 1_796_650_000 * NS
offsets_st = st.integers(-30 * 86400 * NS, 30 * 86400 * NS)


def _rfc3339(ns: int) -> str:
    """A time as the engine writes a container's StartedAt."""
    second, frac = divmod(ns, NS)
    when = datetime.datetime.fromtimestamp(second, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


@given(
    started=st.none() | offsets_st,
    look_back=st.floats(0, 365 * 86400, allow_nan=False),
    lines=st.lists(offsets_st, max_size=40).map(sorted),
    again=st.data(),
)
@settings(max_examples=300)
def test_a_first_seen_container_ships_its_look_back_or_its_whole_run_and_each_line_once(
    started, look_back, lines, again
) -> None:
    """Already running when shipping began (or its start unknown): the lines of the look-back
    before that moment and later, none a whole second older. Started later: its whole run
    (from a second before its start), none a whole second older than the look-back before it.
    Shipped from there and read again from the moved position, no line comes twice."""
    start = None if started is None else SHIPPING + started
    # Not known: Docker's zero time for a container never started, or anything else.
    first = Position.first(
        "0001-01-01T00:00:00Z" if start is None else _rfc3339(start), SHIPPING, look_back
    )
    look_back_ns = int(look_back * NS)
    log = [(SHIPPING + ns, f"line {i}") for i, ns in enumerate(lines)]
    resume = Resume(first)
    ranker = Ranker()
    shipped = []
    for ns, text in _engine_since(log, first.since()):
        line = ranker.stamp(ns, text)
        if resume.new(line.ns, line.rank, line.text):
            shipped.append((line.ns, line.rank, text))
    new = {text for _, _, text in shipped}
    for ns, text in log:
        if start is not None and start >= SHIPPING:
            if ns >= start - NS:
                assert text in new, "a container started while shipping runs: its whole run"
            if ns < start - max(look_back_ns, NS) - NS:
                assert text not in new, "nothing older than its look-back"
        else:
            if ns >= SHIPPING - look_back_ns:
                assert text in new, "the look-back before shipping began"
            if ns < SHIPPING - look_back_ns - NS:
                assert text not in new, "nothing older than the look-back"
    # Kafka took some of them; the next start reads on from there, none twice.
    took = again.draw(st.integers(0, len(shipped)))
    position = first
    for ns, rank, text in shipped[:took]:
        position = moved(position, [(ns, rank, digest(ns, text))]) or position
    ranker, resume = Ranker(), Resume(position)
    rest = []
    for ns, text in _engine_since(log, position.since()):
        line = ranker.stamp(ns, text)
        if resume.new(line.ns, line.rank, line.text):
            rest.append(text)
    assert [text for _, _, text in shipped[:took]] + rest == [text for _, _, text in shipped]


def test_a_first_position_is_kept_as_any_position(tmp_path: Path) -> None:
    """Saved at once (a container that printed nothing yet keeps its starting point)."""
    store = PositionStore(tmp_path / "positions")
    first = Position.first("", SHIPPING, 300)
    assert first == Position(SHIPPING - 300 * NS, 0) and first.seen == ()
    store.save("ab" * 32, first, "pay")
    assert store.load("ab" * 32) == first and store.load("ab" * 32).seen == ()
    # A clock far off: never before the epoch.
    assert Position.first("", NS // 2, 300).ns == NS
    assert Position.first(_rfc3339(SHIPPING + 5 * NS), SHIPPING, 0).ns == SHIPPING + 4 * NS
    # Podman's start, with an offset.
    assert Position.first("2026-12-07T17:00:00.5+01:00", 0, 0).ns == 1796659200 * NS - NS // 2


@given(st.text(max_size=100), st.integers(0, 4_000_000_000 * NS), st.floats(0, 365 * 86400))
def test_any_start_the_engine_tells_gives_a_position_within_the_look_back(
    started_at, shipping, look_back
) -> None:
    """The engine's StartedAt comes from a stranger: any text gives a position, never later
    than shipping's start minus the look-back unless it is a start after shipping began."""
    first = Position.first(started_at, shipping, look_back)
    assert first.ns >= NS and first.rank == 0 and first.seen == ()
    started = stamp_ns(started_at[:40])
    if started is None or started < shipping:
        assert first.ns == max(NS, shipping - int(look_back * NS))


def test_positions_are_kept_per_container_id_and_junk_is_none(tmp_path: Path) -> None:
    store = PositionStore(tmp_path / "positions")
    cid = "ab" * 32
    assert store.load(cid) is None
    store.save(cid, Position(5 * NS, 2), "pay")
    assert store.load(cid) == Position(5 * NS, 2)
    store.save(cid, Position(5 * NS, 2, (digest(1, "x"), digest(1, "x"))), "pay")
    assert store.load(cid).seen == (digest(1, "x"), digest(1, "x"))
    assert store.load("c" * 64) is None  # a container recreated: a new id starts anew
    store.save("../../etc/passwd", Position(1, 1))  # not an id: never a path
    assert not (tmp_path / "etc").exists()
    (tmp_path / "positions" / ("d" * 64 + ".json")).write_bytes(b"\xff{not json")
    assert store.load("d" * 64) is None
    store.prune({cid})
    assert [p.stem for p in (tmp_path / "positions").glob("*.json")] == [cid]


@given(st.binary(max_size=300))
def test_any_position_file_is_read_or_ignored(tmp_path_factory, raw) -> None:
    folder = tmp_path_factory.mktemp("pos")
    (folder / ("e" * 64 + ".json")).write_bytes(raw)
    loaded = PositionStore(folder).load("e" * 64)
    assert loaded is None or (loaded.ns >= 0 and loaded.rank >= 0)


@given(st.integers(0, 253_402_300_799 * NS))
def test_dockers_own_stamps_read_back_to_the_same_nanosecond(ns) -> None:
    import datetime

    second, frac = divmod(ns, NS)
    when = datetime.datetime.fromtimestamp(second, tz=datetime.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
    assert stamp_ns(stamp) == ns
    assert stamp_ns(stamp) == ns  # again: from the cache of seconds


@given(
    st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=50)), max_size=20),
    st.data(),
)
def test_the_multiplexed_stream_gives_back_its_payload_from_any_chunks(frames, data) -> None:
    from logtray.stack.ship.stamped import Demuxer

    stream = b"".join(
        bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
        for kind, payload in frames
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    demux = Demuxer()
    out = b""
    start = 0
    for cut in [*cuts, len(stream)]:
        out += demux.feed(stream[start:cut])
        start = cut
    assert out == b"".join(payload for _, payload in frames)
