"""Splitting a byte stream into messages: lines, plus whatever remains when the peer closes.

Pure and incremental, so the listener feeds it whatever chunks TCP delivers and property tests
can check that chunking never changes the result.
"""

from __future__ import annotations


class LineFramer:
    """Feed bytes, get complete messages (bytes, without the line ending).

    A line longer than `max_bytes` (its line ending, `\n` or `\r\n`, not counted) is discarded
    up to the next newline and counted in `oversized`; it never grows the buffer past
    `max_bytes` + 1 (room for the `\r` of a `\r\n` still to come).
    """

    def __init__(self, max_bytes: int = 65536) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._discarding = False
        self.oversized = 0

    def feed(self, data: bytes) -> list[bytes]:
        messages: list[bytes] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            piece = data[start:newline]
            start = newline + 1
            if self._discarding:
                self._discarding = False  # the oversized line ends here
                continue
            if self._buffer:
                self._buffer += piece
                piece = bytes(self._buffer)
                self._buffer.clear()
            piece = piece.removesuffix(b"\r")
            if len(piece) > self.max_bytes:
                self.oversized += 1
                continue
            messages.append(piece)
        rest = data[start:]
        if rest and not self._discarding:
            self._buffer += rest
            if len(self._buffer) > self.max_bytes + 1:
                self._buffer.clear()
                self._discarding = True
                self.oversized += 1
        return messages

    @property
    def buffered(self) -> int:
        """Bytes of the unfinished line held."""
        return len(self._buffer)

    def reset(self) -> None:
        self._buffer = bytearray()
        self._discarding = False

    @property
    def pending(self) -> bool:
        """A line has started and is not complete yet (also while discarding an oversized one)."""
        return self._discarding or bool(self._buffer)

    def close(self) -> list[bytes]:
        """The peer closed: what was sent without a final newline is one more message."""
        if self._discarding or not self._buffer:
            self._buffer.clear()
            return []
        message = bytes(self._buffer).removesuffix(b"\r")
        self._buffer.clear()
        if len(message) > self.max_bytes:
            self.oversized += 1
            return []
        return [message] if message.strip() else []
