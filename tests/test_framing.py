from hypothesis import given
from hypothesis import strategies as st

from logtray.tray.alerts.framing import LineFramer


def frame(chunks, max_bytes=65536):
    framer = LineFramer(max_bytes)
    out = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out + framer.close(), framer.oversized


def test_lines_crlf_and_unterminated_tail():
    messages, _ = frame([b"a\r\nb\n", b"c"])
    assert messages == [b"a", b"b", b"c"]


def test_oversized_line_is_discarded_up_to_the_next_newline():
    messages, oversized = frame([b"x" * 50, b"y" * 60, b"z\nok\n"], max_bytes=100)
    assert messages == [b"ok"]
    assert oversized == 1


def test_oversized_unterminated_tail_is_not_delivered_on_close():
    messages, oversized = frame([b"x" * 200], max_bytes=100)
    assert messages == [] and oversized == 1


def test_buffer_never_exceeds_the_limit():
    framer = LineFramer(100)
    for _ in range(1000):
        framer.feed(b"x" * 99)
        assert len(framer._buffer) <= 101  # the limit, and room for a \r


lines = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20)


@given(lines, st.data())
def test_chunking_never_changes_the_messages(messages, data):
    stream = b"".join(m + b"\n" for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    got, _ = frame(chunks)
    assert got == [m.removesuffix(b"\r") for m in messages]


@given(st.lists(st.binary(max_size=300), max_size=30))
def test_arbitrary_bytes_never_break_the_framer(chunks):
    got, _ = frame(chunks, max_bytes=256)
    assert all(len(m) <= 256 for m in got)


def test_pending_says_a_line_has_started():
    framer = LineFramer(100)
    assert not framer.pending
    framer.feed(b"par")
    assert framer.pending
    framer.feed(b"tial\n")
    assert not framer.pending
    framer.feed(b"x" * 200)  # discarding an oversized line is still a line in progress
    assert framer.pending


@given(st.lists(st.binary(max_size=300), max_size=30), st.integers(1, 400))
def test_framer_state_is_bounded_and_pending_matches(chunks, max_bytes):
    framer = LineFramer(max_bytes)
    for chunk in chunks:
        for message in framer.feed(chunk):
            assert b"\n" not in message and len(message) <= max_bytes
        assert len(framer._buffer) <= max_bytes + 1
        assert framer.pending or not framer._buffer
    assert framer.pending == (framer._discarding or bool(framer._buffer))


@given(st.integers(0, 100), st.sampled_from([b"\n", b"\r\n"]))
def test_the_line_ending_never_counts_against_the_limit(cut, ending):
    # a line of exactly max_bytes is kept with either ending, however TCP cuts it
    stream = b"y" * 100 + ending + b"x" * 101 + ending
    cut = min(cut + 90, len(stream))
    messages, oversized = frame([stream[:cut], stream[cut:]], max_bytes=100)
    assert messages == [b"y" * 100] and oversized == 1
    messages, oversized = frame([b"z" * 100 + b"\r"], max_bytes=100)  # closed after the \r
    assert messages == [b"z" * 100] and oversized == 0
