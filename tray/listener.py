"""The TCP listener that receives alert messages (the successor of `netcat -l -p 10000`).

Many concurrent connections (up to a cap), many messages per connection. A message is a line,
or whatever was sent before the peer closed. Nothing a peer sends can stop the listener:
oversized lines are discarded, bad UTF-8 is replaced, idle peers are timed out, and messages
from non-loopback peers without the token are dropped and counted.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from tray.alert import Alert, parse_message
from tray.config import ListenerConfig
from tray.errors import LogtrayError
from tray.framing import LineFramer
from tray.ports import port_holder

log = logging.getLogger(__name__)

# (alert, peer address, perf_counter at receipt)
AlertSink = Callable[[Alert, str, float], None]

WILDCARD_HOSTS = ("0.0.0.0", "::", "")

# A message with this (string) field is a canary: see handle().
CANARY_FIELD = "canary"


@dataclass
class ListenerStats:
    connections: int = 0
    rejected_connections: int = 0
    messages: int = 0
    accepted: int = 0
    dropped_no_token: int = 0
    oversized: int = 0
    timed_out: int = 0
    canaries: int = 0


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class _Connection(asyncio.Protocol):
    def __init__(self, listener: AlertListener) -> None:
        self._listener = listener
        self._framer = LineFramer(listener.config.max_line_bytes)
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._trusted = False
        self._counted = False
        self._last_activity = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._oversized_reported = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        listener = self._listener
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else "?"
        if listener.active >= listener.config.max_connections:
            listener.stats.rejected_connections += 1
            listener.warn_once(
                "capacity",
                f"connection limit ({listener.config.max_connections}) reached: refusing new "
                "connections until some close (raise [listener] max_connections if expected)",
            )
            transport.close()
            return
        self._counted = True
        listener.active += 1
        listener.stats.connections += 1
        self._trusted = is_loopback(self._peer)
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        self._idle_timer = loop.call_later(listener.config.idle_timeout_s, self._check_idle)

    def _check_idle(self) -> None:
        loop = asyncio.get_running_loop()
        idle_for = loop.time() - self._last_activity
        timeout = self._listener.config.idle_timeout_s
        if idle_for >= timeout:
            self._listener.stats.timed_out += 1
            log.debug("closing idle connection from %s", self._peer)
            if self._transport:
                self._transport.close()
            return
        self._idle_timer = loop.call_later(timeout - idle_for, self._check_idle)

    def data_received(self, data: bytes) -> None:
        received_at = time.perf_counter()
        self._last_activity = asyncio.get_running_loop().time()
        self._listener.scheduler.submit(self, data, received_at)

    def frame(self, data: bytes) -> list[bytes]:
        messages = self._framer.feed(data)
        if self._framer.oversized > self._oversized_reported:
            if not self._oversized_reported:
                log.warning(
                    "discarded a line over %d bytes from %s (further ones on this connection "
                    "are counted, not logged)",
                    self._listener.config.max_line_bytes,
                    self._peer,
                )
            self._listener.stats.oversized += self._framer.oversized - self._oversized_reported
            self._oversized_reported = self._framer.oversized
        return messages

    def eof_received(self) -> bool:
        messages = self._framer.close()
        if messages:
            self._listener.scheduler.submit(self, messages, time.perf_counter())
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer:
            self._idle_timer.cancel()
        if self._counted:
            self._listener.active -= 1
            self._counted = False

    def pause(self) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.resume_reading()

    def handle(self, raw: bytes, received_at: float) -> None:
        listener = self._listener
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return
        listener.stats.messages += 1
        alert = parse_message(text)
        token_ok = self._trusted or hmac.compare_digest(
            (alert.token or "").encode(), listener.config.token.encode()
        )
        canary = alert.extra.get(CANARY_FIELD)
        if isinstance(canary, str):
            # A probe of the alert path (stack/canary.py sends it from inside the stack):
            # answered on this connection, never notified, never stored.
            listener.stats.canaries += 1
            reply = {CANARY_FIELD: canary[:64], "ok": token_ok}
            if self._transport and not self._transport.is_closing():
                self._transport.write(orjson.dumps(reply) + b"\n")
            return
        if not token_ok:
            listener.stats.dropped_no_token += 1
            listener.warn_once(
                f"token:{self._peer}",
                f"dropped a message from {self._peer} without the right token (senders that "
                "are not on this machine must include the token from the config file)",
            )
            return
        listener.stats.accepted += 1
        try:
            listener.sink(alert, self._peer, received_at)
        except Exception:
            log.exception("failed to process an alert from %s", self._peer)


class _FairScheduler:
    """Handles received messages in slices of at most `budget_s` per event-loop turn.

    Under a flood, one turn can bring hundreds of ready connections with 64 KiB each. Handled
    all at once, they would hold the loop for a second, and the notifier (and everything else
    on the loop) would wait behind them. Past the budget, messages wait in a backlog, their
    connections stop reading (TCP backpressure instead of memory), and the rest is handled
    in later turns, interleaved with the notifier.
    """

    CHECK_EVERY = 32  # messages between clock reads

    def __init__(self, budget_s: float = 0.002) -> None:
        self.budget_s = budget_s
        # (connection, raw bytes not yet framed or framed messages, perf_counter at receipt)
        self._backlog: deque[tuple[_Connection, bytes | list[bytes], float]] = deque()
        self._slice_start: float | None = None
        self._drain_scheduled = False

    def submit(self, conn: _Connection, data: bytes | list[bytes], received_at: float) -> None:
        """Raw bytes from a connection (framed here, lazily) or messages (at EOF)."""
        if self._backlog or self._over_budget():
            self._defer(conn, data, received_at)  # even framing waits: it costs too
            return
        self._run(conn, data, received_at)

    def _over_budget(self) -> bool:
        now = time.perf_counter()
        if self._slice_start is None:
            self._slice_start = now
            asyncio.get_running_loop().call_soon(self._end_slice)
            return False
        return now - self._slice_start > self.budget_s

    def _end_slice(self) -> None:
        self._slice_start = None

    def _defer(self, conn: _Connection, data: bytes | list[bytes], received_at: float) -> None:
        self._backlog.append((conn, data, received_at))
        conn.pause()
        self._schedule_drain()

    def _run(self, conn: _Connection, data: bytes | list[bytes], received_at: float) -> bool:
        """Handle messages until the budget runs out; defer the rest. True when all done."""
        messages = conn.frame(data) if isinstance(data, bytes) else data
        for index, raw in enumerate(messages):
            if index and index % self.CHECK_EVERY == 0 and self._over_budget():
                self._backlog.appendleft((conn, messages[index:], received_at))
                conn.pause()
                self._schedule_drain()
                return False
            conn.handle(raw, received_at)
        return True

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        while self._backlog and not self._over_budget():
            conn, data, received_at = self._backlog.popleft()
            if not self._run(conn, data, received_at):
                return
            if not any(item[0] is conn for item in self._backlog):
                conn.resume()
        if self._backlog:
            self._schedule_drain()


class AlertListener:
    def __init__(self, config: ListenerConfig, sink: AlertSink) -> None:
        if not config.token:
            raise ValueError("the listener needs a token (config.ensure_token)")
        self.config = config
        self.sink = sink
        self.stats = ListenerStats()
        self.scheduler = _FairScheduler()
        self.active = 0
        self._servers: list[asyncio.Server] = []
        self._warned: set[str] = set()
        self.addresses: list[tuple[str, int]] = []

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)

    async def start(self, hosts: Sequence[str], optional_hosts: Sequence[str] = ()) -> None:
        """Bind every host in `hosts` (failure is an error) and `optional_hosts` (a warning)."""
        loop = asyncio.get_running_loop()
        port = self.config.port
        for host in [*hosts, *optional_hosts]:
            if host in WILDCARD_HOSTS:
                log.warning(
                    "listening on all interfaces (%r): any machine that can reach this one may "
                    "send alerts with the token; use 127.0.0.1 unless you need this",
                    host,
                )
            try:
                server = await loop.create_server(
                    lambda: _Connection(self), host=host or None, port=port, backlog=1024
                )
            except OSError as exc:
                if host in optional_hosts:
                    log.warning("not listening on %s:%d: %s", host, port, exc.strerror or exc)
                    continue
                await self.stop()
                raise _bind_error(host, port, exc) from None
            self._servers.append(server)
            for sock in server.sockets:
                address = sock.getsockname()
                self.addresses.append((str(address[0]), int(address[1])))
            if port == 0:  # the first bind chose the port; use it for the other hosts too
                port = self.addresses[0][1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


def _bind_error(host: str, port: int, exc: OSError) -> LogtrayError:
    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        who = f" by {holder}" if holder else ""
        return LogtrayError(
            f"port {port} on {host} is already in use{who}",
            fix="stop that program (an old `netcat -l -p 10000` loop?) or choose another port "
            "with --port / [listener] port",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return LogtrayError(
            f"cannot listen on {host}: no such address on this machine",
            fix="check --host / [listener] hosts",
        )
    if exc.errno == errno.EACCES:
        return LogtrayError(
            f"not allowed to listen on {host}:{port}",
            fix="use a port above 1023 (--port)",
        )
    return LogtrayError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
