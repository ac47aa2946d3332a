"""A TCP proxy on loopback for cutting a Kafka client's connection in tests (asyncio).

It forwards 127.0.0.1:`port` to 127.0.0.1:`target_port` both ways. A broker advertised at the
proxy's port sends every client through it, so `cut()` can take a client's connections away
mid-stream (aborted: the client sees them reset) and turn its new ones away until
`restore()`. Which client a connection belongs to is read from its first Kafka request: the
client id in the request header (aiokafka's `client_id`), so a test can cut the subscriber
while its publisher goes on publishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable

from tests.conftest import free_port

# A request header: size (int32), api key (int16), api version (int16), correlation id (int32),
# client id (int16 length, then that many bytes).
_HEADER = struct.Struct(">ihhih")


class TcpProxy:
    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.StreamWriter, str] = {}  # client side -> its client id
        self._cut: Callable[[str], bool] | None = None
        self.connections: dict[str, int] = {}  # client id -> connections forwarded
        self.turned_away = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut_all(lambda _client: True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def cut(self, client: Callable[[str], bool]) -> int:
        """Abort the open connections of every client id `client` says, and turn such clients'
        new connections away (closed after their first request) until `restore()`; how many
        were aborted."""
        self._cut = client
        return self.cut_all(client)

    def cut_all(self, client: Callable[[str], bool]) -> int:
        aborted = 0
        for writer, client_id in list(self._open.items()):
            if client(client_id):
                writer.transport.abort()
                aborted += 1
        return aborted

    def restore(self) -> None:
        self._cut = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readexactly(_HEADER.size)
            length = _HEADER.unpack(head)[4]
            raw_id = await reader.readexactly(max(0, length))
            client_id = raw_id.decode("utf-8", "replace")
            if self._cut is not None and self._cut(client_id):
                self.turned_away += 1
                writer.transport.abort()
                return
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            self.connections[client_id] = self.connections.get(client_id, 0) + 1
            self._open[writer] = client_id
            upstream.write(head + raw_id)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass  # a connection cut or refused: the client sees it closed
        finally:
            self._open.pop(writer, None)
            for side in (writer, upstream):
                if side is not None:
                    side.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()  # one side closed: so is the other
