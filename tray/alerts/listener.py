"""The TCP listener that receives alert messages (the successor of `netcat -l -p 10000`).

Many concurrent connections (up to a cap), many messages per connection. A message is a line,
or whatever was sent before the peer closed. Nothing a peer sends can stop the listener or
crowd out a local sender:
- oversized lines are discarded, bad UTF-8 is replaced, junk is counted (tray.alert);
- memory per connection is bounded (one shared read buffer, a framer of max_line_bytes);
- loopback senders always find a slot: at the cap, a connection that has already been heard
  (or idles) is closed to make room before one whose first line still waits, and what such
  a one sent is still handled (bounded), so a flood of connections cannot make a sender's
  first alert disappear; connections are accepted in batches smaller than the cap;
  peers that are not on this machine share at most
  max_remote_connections slots, at most max_peer_connections each;
- a connection earns its slot by being loopback or by sending a line with the right token;
  until then it is the first closed at any cap (the peer holding the most such connections
  gives one up first), and it is closed after auth_timeout_s, so connections that send
  nothing cannot keep a sender with the token out;
- a sender that asks (`"ack": true` in its JSON) gets one reply line per message:
  `{"ok": true}` or `{"ok": false, "reason": ...}`; a refused connection gets the reason before
  it is closed. Senders that never read (Riemann) are unaffected: replies are small, only
  written while less than REPLY_BUFFER_LIMIT waits unread;
- a connection idle for idle_timeout_s, or whose line is not complete line_timeout_s after
  its first byte (however slowly it trickles), is closed;
- messages from non-loopback peers without the token are dropped and counted;
- warnings a peer can cause are rate limited per peer (tray.logs.Throttled).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import hmac
import ipaddress
import logging
import socket
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from logtray.stack.ports import port_holder
from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.framing import LineFramer
from logtray.tray.alerts.pipeline import PipelineMessage, from_extra, is_pipeline
from logtray.tray.base.config import ListenerConfig
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.logs import Throttled

log = logging.getLogger(__name__)

# (alert, peer address, perf_counter at receipt)
AlertSink = Callable[[Alert, str, float], None]
# A pipeline message (tray/alerts/pipeline.py): the stack's plumbing, never an alert.
PipelineSink = Callable[[PipelineMessage], None]

WILDCARD_HOSTS = ("0.0.0.0", "::", "")

# One read buffer for all connections: the loop reads one socket at a time and the bytes
# are copied out before the next read, so a read never holds more than this per connection.
READ_CHUNK = 32 * 1024
# All connections' unfinished lines together: past this, the least recently active connections
# with an unfinished line are closed (each may hold up to max_line_bytes on its own).
MAX_BUFFERED_BYTES = 8 * 1024 * 1024
# A message with this (string) field is a canary: see handle().
CANARY_FIELD = "canary"
# A message with this field set to true is answered with one reply line (see handle()).
ACK_FIELD = "ack"
# Replies are skipped while this much is written and not yet read by the peer.
REPLY_BUFFER_LIMIT = 64 * 1024
# A refused connection is kept half-open this long so that its sender can read why (see
# _Connection._refused); at most MAX_LINGERING connections are half-open at a time (refused
# ones, and ones whose peer has finished while their messages wait in the backlog).
REFUSED_LINGER_S = 1.0
MAX_LINGERING = 64
# Connections accepted per event-loop turn (well below max_connections' default, see
# _deepen_accept_queue) and the kernel's queue of connections not yet accepted.
ACCEPT_BATCH = 64
ACCEPT_QUEUE = 1024
# At the connection cap, a connection closed before its first turn keeps what it sent in the
# backlog (handled as if it had stayed) while the backlog holds fewer items than this.
MAX_ORPHANED_BACKLOG = 512


@dataclass
class ListenerStats:
    connections: int = 0
    rejected_connections: int = 0
    evicted: int = 0
    messages: int = 0
    accepted: int = 0
    junk: int = 0
    dropped_no_token: int = 0
    oversized: int = 0
    timed_out: int = 0
    slow_lines: int = 0
    canaries: int = 0
    pipeline: int = 0
    # connections closed because they had not sent a line with the token in auth_timeout_s
    unauthenticated: int = 0


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class _Connection(asyncio.BufferedProtocol):
    def __init__(self, listener: AlertListener) -> None:
        self._listener = listener
        self._framer = LineFramer(listener.config.max_line_bytes)
        self._transport: asyncio.Transport | None = None
        self.peer = "?"
        self.trusted = False
        # Loopback, or sent a line with the right token: holds its slot (see the module doc).
        self.earned = False
        self.opened = 0.0
        self._counted = False
        self.paused = False
        self.queued = 0  # items of this connection in the scheduler's backlog
        # Its first message has been handled: it has had its turn (see _FairScheduler), so at
        # a cap it goes before a connection still waiting for its first turn.
        self.had_turn = False
        self.has_sent = False  # any byte received
        # Closed at the cap before its first turn, what it sent kept for that turn (_evict).
        self.orphaned = False
        # Sent junk, an oversized line or no token: its lines wait behind everyone else's.
        self.suspect = False
        self.last_activity = 0.0
        # loop time of the first byte of the line not yet complete (None: between lines)
        self.line_started: float | None = None
        self._oversized_reported = 0
        self._eof = False  # the peer has finished sending
        self.refused = False  # no slot: its answer is written, what it sends is ignored
        self._lingers = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "?"
        self.trusted = self.earned = is_loopback(self.peer)
        self.opened = self.last_activity = asyncio.get_running_loop().time()
        refused = self._listener.admit(self)
        if refused is not None:
            self._refused(transport, refused)
            return
        self._counted = True

    def _refused(self, transport: asyncio.Transport, why: str) -> None:
        """Say why on the connection (a sender that reads, like `logtray send`, reports it),
        then close. Closed at once, a sender's line arriving after it would make the kernel
        reset the connection and discard the answer; so the answer is followed by our EOF and
        what the sender writes is read and ignored for up to REFUSED_LINGER_S, for at most
        MAX_LINGERING connections at a time (beyond that: closed at once)."""
        self.refused = True
        listener = self._listener
        transport.write(orjson.dumps({"ok": False, "reason": why}) + b"\n")
        if listener.lingering >= MAX_LINGERING:
            transport.close()
            return
        listener.lingering += 1
        self._lingers = True
        transport.write_eof()
        asyncio.get_running_loop().call_later(REFUSED_LINGER_S, transport.close)

    @property
    def buffered(self) -> int:
        return self._framer.buffered

    def close(self, keep_queued: bool = False) -> None:
        """Close from our side (timeout, eviction): the slot and, unless `keep_queued`, what
        it queued are free at once (otherwise a flood of new connections, each closing an old
        one, would pile up the old ones' unread data)."""
        self._listener.release(self)
        self._counted = False
        if self.queued:
            if keep_queued:
                self.orphaned = True
            else:
                self._listener.scheduler.forget(self)
        if self._transport:
            self._transport.close()

    def drop_buffer(self) -> int:
        """Forget the unfinished line (the connection is gone); returns its size."""
        size = self._framer.buffered
        self._framer.reset()
        return size

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._listener.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.refused:
            return
        received_at = time.perf_counter()
        listener = self._listener
        self.has_sent = True
        self.last_activity = asyncio.get_running_loop().time()
        listener.touch(self)
        listener.scheduler.submit(self, bytes(listener.read_buffer[:nbytes]), received_at)

    def frame(self, data: bytes) -> list[bytes]:
        framer = self._framer
        before = framer.buffered
        messages = framer.feed(data)
        if self._counted:  # a closed connection's bytes were already given back
            self._listener.buffered_changed(self, framer.buffered - before)
        if framer.pending:
            if self.line_started is None or messages:
                self.line_started = asyncio.get_running_loop().time()
        else:
            self.line_started = None
        if framer.oversized > self._oversized_reported:
            self.suspect = True
            listener = self._listener
            listener.stats.oversized += framer.oversized - self._oversized_reported
            self._oversized_reported = framer.oversized
            listener.warn(
                f"oversized:{self.peer}",
                "discarded a line over %d bytes from %s",
                listener.config.max_line_bytes,
                self.peer,
            )
        return messages

    def eof_received(self) -> bool:
        if self.refused:
            return False
        if self._counted:
            self._listener.buffered_changed(self, -self._framer.buffered)
        messages = self._framer.close()
        self.line_started = None
        self._eof = True
        if messages:
            self._listener.scheduler.submit(self, messages, time.perf_counter())
        if not self.queued:
            return False  # all handled: close our side too
        # Its messages wait in the backlog and answers may follow: the slot is given back now
        # (the peer has finished sending) and the socket stays half-open until the last one
        # is handled (resume()), for at most MAX_LINGERING connections at a time.
        listener = self._listener
        if self._counted:
            listener.release(self)
            self._counted = False
        if listener.lingering >= MAX_LINGERING:
            return False
        listener.lingering += 1
        self._lingers = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lingers:
            self._lingers = False
            self._listener.lingering -= 1
        if self._counted:
            self._listener.release(self)
            self._counted = False

    def reply(self, ok: bool, reason: str | None = None) -> None:
        """One reply line, unless the peer has left unread more than REPLY_BUFFER_LIMIT."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > REPLY_BUFFER_LIMIT:
            return
        transport.write(
            orjson.dumps({"ok": ok, "reason": reason} if reason else {"ok": ok}) + b"\n"
        )

    def pause(self) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.pause_reading()
            self.paused = True

    def resume(self) -> None:
        """Its backlog is handled: read on, or close if the peer has finished sending."""
        self.paused = False
        if self._transport and not self._transport.is_closing():
            if self._eof:
                self._transport.close()
            else:
                self._transport.resume_reading()

    def handle(self, raw: bytes, received_at: float) -> None:
        listener = self._listener
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return
        listener.stats.messages += 1
        try:
            alert = parse_message(text, listener.url_prefixes)
        except Exception:  # a parser bug must not stall the connection: the line is junk
            log.debug("unparsable line from %s", self.peer, exc_info=True)
            alert = None
        if alert is None:
            self.suspect = True
            listener.stats.junk += 1
            listener.warn(
                f"junk:{self.peer}",
                "ignored a line from %s that is not an alert (binary data or deeply nested "
                "JSON; %d such lines in all)",
                self.peer,
                listener.stats.junk,
            )
            return
        token_ok = self.trusted or hmac.compare_digest(
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
        ack = alert.extra.get(ACK_FIELD) is True
        if not token_ok:
            self.suspect = True
            listener.stats.dropped_no_token += 1
            if ack:
                self.reply(False, "no token or a wrong one (see [listener] token)")
            listener.warn(
                f"token:{self.peer}",
                "dropped a message from %s without the right token (senders that are not on "
                "this machine must include the token from the config file)",
                self.peer,
            )
            return
        if is_pipeline(alert.extra):
            self.earned = True  # it came with the token
            listener.pipeline_message(alert.extra, self.peer)
            if ack:
                self.reply(True)
            return
        listener.stats.accepted += 1
        self.earned = True
        if ack:
            alert = dataclasses.replace(
                alert, extra={k: v for k, v in alert.extra.items() if k != ACK_FIELD}
            )
        try:
            listener.sink(alert, self.peer, received_at)
        except Exception:
            log.exception("failed to process an alert from %s", self.peer)
        if ack:
            self.reply(True)


class _FairScheduler:
    """Handles received messages in slices of at most `budget_s` per event-loop turn, taking
    turns between connections, alerts before junk.

    Under a flood, one turn can bring hundreds of ready connections with 32 KiB each. Handled
    all at once, they would hold the loop for a second, and the notifier (and everything else
    on the loop) would wait behind them. Past the budget, messages wait in a backlog, their
    connections stop reading (TCP backpressure instead of memory), and the rest is handled
    in later turns, interleaved with the notifier. A connection's first turn handles one
    message and each later round QUOTA, so a fresh connection's alert waits for one round,
    not for every line that flooding connections already sent (a flood of connections that
    each send many lines is served one line per connection first); and connections that have
    sent junk (or lines that were too long, or lacked the token) wait until no other connection has
    anything queued, so a junk flood cannot delay a real alert.
    """

    QUOTA = 32  # messages per connection per round (also between clock reads)
    FIRST_QUOTA = 1  # in its first turn

    def __init__(self, budget_s: float = 0.002) -> None:
        self.budget_s = budget_s
        # (connection, raw bytes not yet framed or framed messages, perf_counter at receipt)
        self._backlog: deque[tuple[_Connection, bytes | list[bytes], float]] = deque()
        self._suspect: deque[tuple[_Connection, bytes | list[bytes], float]] = deque()
        self._slice_start: float | None = None
        self._drain_scheduled = False

    def submit(self, conn: _Connection, data: bytes | list[bytes], received_at: float) -> None:
        """Raw bytes from a connection (framed here, lazily) or messages (at EOF)."""
        if self._backlog or self._suspect or self._over_budget():
            self._defer(conn, data, received_at)  # even framing waits: it costs too
            return
        rest = self._run(conn, data, received_at)
        if rest:
            self._defer(conn, rest, received_at)

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
        (self._suspect if conn.suspect else self._backlog).append((conn, data, received_at))
        conn.queued += 1
        conn.pause()
        self._schedule_drain()

    @classmethod
    def _run(cls, conn: _Connection, data: bytes | list[bytes], received_at: float) -> list[bytes]:
        """Handle up to QUOTA messages (FIRST_QUOTA in a connection's first turn); return the
        rest (all of it once the connection turns out to send junk: it goes to the back of the
        line at once). A connection closed at the cap before its first turn gets that turn
        only: the rest of what it sent is dropped."""
        if conn.orphaned and conn.had_turn:
            return []
        suspect = conn.suspect
        messages = conn.frame(data) if isinstance(data, bytes) else data
        quota = cls.QUOTA if conn.had_turn else cls.FIRST_QUOTA
        if messages:
            conn.had_turn = True
        for index, raw in enumerate(messages[:quota]):
            conn.handle(raw, received_at)
            if conn.suspect and not suspect:
                return [] if conn.orphaned else messages[index + 1 :]
        return [] if conn.orphaned else messages[quota:]

    @property
    def backlog_items(self) -> int:
        return len(self._backlog) + len(self._suspect)

    def forget(self, conn: _Connection) -> None:
        """Drop what `conn` has queued (it was closed by us)."""
        for queue in (self._backlog, self._suspect):
            kept = [item for item in queue if item[0] is not conn]
            if len(kept) != len(queue):
                queue.clear()
                queue.extend(kept)
        conn.queued = 0

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        while (self._backlog or self._suspect) and not self._over_budget():
            conn, data, received_at = (self._backlog or self._suspect).popleft()
            conn.queued -= 1
            rest = self._run(conn, data, received_at)
            if rest:  # to the back: the other connections take their turn first
                self._defer(conn, rest, received_at)
            elif not conn.queued:
                conn.resume()
        if self._backlog or self._suspect:
            self._schedule_drain()


class AlertListener:
    def __init__(
        self,
        config: ListenerConfig,
        sink: AlertSink,
        url_prefixes: Sequence[str] = (),
        on_pipeline: PipelineSink | None = None,
    ) -> None:
        if not config.token:
            raise ValueError("the listener needs a token (config.ensure_token)")
        self.config = config
        self.sink = sink
        self.on_pipeline = on_pipeline
        # What an alert's own url may point to (tray.links); empty: every sender url is dropped.
        self.url_prefixes = tuple(url_prefixes)
        self.stats = ListenerStats()
        self.scheduler = _FairScheduler()
        self.read_buffer = memoryview(bytearray(READ_CHUNK))
        # Open connections, least recently active first.
        self._connections: OrderedDict[_Connection, None] = OrderedDict()
        self._remote = 0
        self._per_peer: Counter[str] = Counter()
        self.buffered = 0  # bytes of unfinished lines in all connections' framers
        self.lingering = 0  # refused connections kept half-open to read their answer
        self._sweeper: asyncio.TimerHandle | None = None
        self._servers: list[asyncio.Server] = []
        self._throttled = Throttled(log)
        self.addresses: list[tuple[str, int]] = []

    @property
    def active(self) -> int:
        return len(self._connections)

    def warn(self, key: str, message: str, *args: object) -> None:
        self._throttled.warning(key, message, *args)

    def pipeline_message(self, extra: dict[str, object], peer: str) -> None:
        """A pipeline message with the right token: to `on_pipeline`, never to the alerts."""
        message = from_extra(extra)
        if message is None:
            self.stats.junk += 1
            self.warn(f"pipeline:{peer}", "ignored a malformed pipeline message from %s", peer)
            return
        self.stats.pipeline += 1
        if self.on_pipeline is None:
            self.warn(
                f"pipeline:{message.source}:{message.problem}",
                "%s: %s (%s)",
                message.source,
                message.problem,
                message.reason,
            )
            return
        try:
            self.on_pipeline(message)
        except Exception:
            log.exception("failed to process a pipeline message from %s", peer)

    # -- slots -----------------------------------------------------------------------------------
    def admit(self, conn: _Connection) -> str | None:
        """Give `conn` a slot, closing an unearned connection (or, for loopback, the least
        recently active one) if a cap is reached; or refuse: the reason, for the peer."""
        config = self.config
        if not conn.trusted:
            if self._per_peer[conn.peer] >= config.max_peer_connections:
                victim = self._unearned(peer=conn.peer)
                if victim is None:
                    return self._refuse(
                        conn,
                        f"{conn.peer} holds {config.max_peer_connections} connections with the "
                        "token already ([listener] max_peer_connections)",
                    )
                self._evict(victim, "max_peer_connections", config.max_peer_connections)
            if self._remote >= config.max_remote_connections:
                victim = self._unearned()
                if victim is None:
                    return self._refuse(
                        conn,
                        f"all {config.max_remote_connections} non-loopback slots are held by "
                        "senders with the token ([listener] max_remote_connections)",
                    )
                self._evict(victim, "max_remote_connections", config.max_remote_connections)
        if len(self._connections) >= config.max_connections:
            victim = self._unearned() or self._least_recent(remote_only=not conn.trusted)
            if victim is None:
                return self._refuse(
                    conn,
                    f"connection limit ({config.max_connections}) reached: refusing new "
                    "connections until some close (raise [listener] max_connections if expected)",
                )
            self._evict(victim, "max_connections", config.max_connections)
        self._connections[conn] = None
        if not conn.trusted:
            self._remote += 1
            self._per_peer[conn.peer] += 1
        self.stats.connections += 1
        self._start_sweeping()
        return None

    def _evict(self, victim: _Connection, limit: str, value: int) -> None:
        self.stats.evicted += 1
        what = (
            "a connection that has not sent the token"
            if not victim.earned
            else ("the least recently active connection")
        )
        self.warn(
            f"evicted:{victim.peer}",
            "%s (%d) reached: closed %s from %s to make room",
            limit,
            value,
            what,
            victim.peer,
        )
        # Every connection is still waiting for its first turn (connections arrive faster than
        # their first lines are handled): what the victim sent stays in the backlog, bounded,
        # so no sender's first alert is lost to the cap.
        keep = (
            victim.earned
            and not victim.had_turn
            and self.scheduler.backlog_items < MAX_ORPHANED_BACKLOG
        )
        victim.close(keep_queued=keep)

    def _refuse(self, conn: _Connection, why: str) -> str:
        self.stats.rejected_connections += 1
        self.warn(f"refused:{conn.peer}", "refused a connection from %s: %s", conn.peer, why)
        return why

    def _unearned(self, peer: str | None = None) -> _Connection | None:
        """The unearned connection to close first: of `peer`, or else of the address holding
        the most unearned connections (a fresh address is the last to lose its one), the
        least recently active one."""
        if not self._remote:  # only connections off this machine have to earn their slot
            return None
        held: dict[str, list[_Connection]] = {}
        for conn in self._connections:  # least recently active first
            if not conn.earned and (peer is None or conn.peer == peer):
                held.setdefault(conn.peer, []).append(conn)
        if not held:
            return None
        return max(held.values(), key=len)[0]

    def _least_recent(self, remote_only: bool) -> _Connection | None:
        """The connection to close for a newcomer: of the least recently active ones first,
        one with nothing queued that has had its turn or has sent nothing for a while (an idle
        holder), then one that sent junk or trickles a line, then one whose first message was
        handled (its later lines wait), and only then one still waiting for its first turn.
        Under a flood of connections, the cap then closes connections that have been heard,
        never one whose alert has not been read yet, as long as there is another to close."""
        now = asyncio.get_running_loop().time()
        best: _Connection | None = None
        best_rank = 4
        for conn in self._connections:  # least recently active first
            if remote_only and conn.trusted:
                continue
            rank = _eviction_rank(conn, now)
            if rank < best_rank:
                best, best_rank = conn, rank
                if rank == 0:
                    break
        return best

    def buffered_changed(self, conn: _Connection, delta: int) -> None:
        """Keep the total of unfinished lines under MAX_BUFFERED_BYTES (oldest closed first)."""
        self.buffered += delta
        if self.buffered <= MAX_BUFFERED_BYTES:
            return
        for victim in list(self._connections):
            if self.buffered <= MAX_BUFFERED_BYTES:
                break
            if victim.buffered and victim is not conn:
                self.stats.evicted += 1
                self.warn(
                    "buffers",
                    "unfinished lines hold over %d MiB: closed the least recently active "
                    "connection with one (from %s)",
                    MAX_BUFFERED_BYTES >> 20,
                    victim.peer,
                )
                victim.close()

    def touch(self, conn: _Connection) -> None:
        if conn in self._connections:
            self._connections.move_to_end(conn)

    def release(self, conn: _Connection) -> None:
        if conn not in self._connections:
            return
        del self._connections[conn]
        self.buffered -= conn.drop_buffer()
        if not conn.trusted:
            self._remote -= 1
            self._per_peer[conn.peer] -= 1
            if self._per_peer[conn.peer] <= 0:
                del self._per_peer[conn.peer]

    # -- timeouts ------------------------------------------------------------------------------
    def _sweep_interval(self) -> float:
        config = self.config
        return min(
            1.0, config.idle_timeout_s / 4, config.line_timeout_s / 4, config.auth_timeout_s / 4
        )

    def _start_sweeping(self) -> None:
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._sweeper = loop.call_later(self._sweep_interval(), self._sweep)

    def _sweep(self) -> None:
        """Close idle connections and those whose line takes too long (one timer for all)."""
        self._sweeper = None
        now = asyncio.get_running_loop().time()
        idle, slow = self.config.idle_timeout_s, self.config.line_timeout_s
        auth = self.config.auth_timeout_s
        for conn in list(self._connections):
            if not conn.earned and now - conn.opened >= auth:
                self.stats.unauthenticated += 1
                self.warn(
                    f"auth:{conn.peer}",
                    "closed a connection from %s: no line with the token within %g s",
                    conn.peer,
                    auth,
                )
                conn.close()
                continue
            if conn.paused:  # waiting for us (backpressure), not for the peer
                continue
            if now - conn.last_activity >= idle:
                self.stats.timed_out += 1
                log.debug("closing idle connection from %s", conn.peer)
                conn.close()
            elif conn.line_started is not None and now - conn.line_started >= slow:
                self.stats.slow_lines += 1
                self.warn(
                    f"slow:{conn.peer}",
                    "closed a connection from %s: its line was not complete after %g s",
                    conn.peer,
                    slow,
                )
                conn.close()
        if self._connections:
            self._start_sweeping()

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
                    lambda: _Connection(self), host=host or None, port=port, backlog=ACCEPT_BATCH
                )
                _deepen_accept_queue(server)
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
        if self._sweeper:
            self._sweeper.cancel()
            self._sweeper = None
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


# A connection that has sent nothing this long after opening counts as an idle holder; one
# whose line is not complete this long after its first byte, as a trickler.
SILENT_HOLDER_S = 1.0


def _eviction_rank(conn: _Connection, now: float) -> int:
    """Lower: closed first at the connection cap (see AlertListener._least_recent)."""
    if not conn.queued and (
        conn.had_turn or (not conn.has_sent and now - conn.opened >= SILENT_HOLDER_S)
    ):
        return 0
    if conn.suspect or (
        not conn.queued
        and conn.line_started is not None
        and now - conn.line_started >= SILENT_HOLDER_S
    ):
        return 1  # sent junk, or trickles a line
    if conn.had_turn:
        return 2
    return 3


def _deepen_accept_queue(server: asyncio.Server) -> None:
    """asyncio accepts up to `backlog` connections per turn before any of them is read; at
    the connection cap each one accepted closes another, so a batch larger than the cap would
    close connections of its own batch unread. The server is created with a small backlog
    (ACCEPT_BATCH per turn), and the kernel's queue is deepened afterwards so that a burst of
    connections waits there instead of being refused."""
    for listening in server.sockets:
        # A second socket object on the same descriptor (or Windows handle), detached rather
        # than closed so the server's socket stays open.
        same_socket = socket.socket(fileno=listening.fileno())
        try:
            same_socket.listen(ACCEPT_QUEUE)
        finally:
            same_socket.detach()


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
