"""Following the chosen containers' output into program-logs: fair, bounded, resumable.

Threads: one per followed container reads its log stream (blocking Docker calls), splits the
stamped lines and appends those past the container's position to its own bounded buffer; one
reads the engine's container events and one reconciles (which containers run and are chosen:
at start, on each event, and every few seconds, since events can be missed or late). One
asyncio loop, in a thread of its own, takes the buffers' lines in turns (at most `TURN` lines
of each container per round: a chatty one cannot starve the others), joins them into entries
(`logtray.pipeline.lines`), makes the records and hands them to aiokafka. A container's
position moves only when Kafka has acknowledged the entry holding its line, and is saved to
its file (`positions.py`); a follower that starts again (the container restarted, the engine
restarted, the shipper restarted) reads on from there.

Bounds: the buffers together hold at most `[ship] buffer_bytes`, each container its share;
with Kafka down or slow the buffers fill and further lines are dropped, counted per container,
and said once with the fix. The shipper's own threads and loop never wait on Kafka's pace.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import http.client
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import orjson
import requests
import urllib3

from logtray.pipeline.lines import Entry, Joiner, record_from_entry
from logtray.stack.ship.choose import MAX_NAME, chosen, service_of
from logtray.stack.ship.config import ShipConfig
from logtray.stack.ship.polled import (
    POLL_MAX_S,
    POLL_MIN_S,
    TAIL_BYTES,
    Cut,
    Read,
    ReadMark,
    first_tail,
    next_tail,
    whole,
)
from logtray.stack.ship.positions import Position, PositionStore, Resume, digest, moved
from logtray.stack.ship.stamped import (
    NS,
    LineSplitter,
    Ranker,
    Stamped,
    parse_stamp,
)
from logtray.stack.ship.stream import container_state, is_podman, open_logs

log = logging.getLogger(__name__)

# Lines of one container taken per round (fairness), and the pause that ends an entry.
TURN = 256
QUIET_S = 0.5
# How often the containers are listed without an event, and a broken stream retried.
RECONCILE_S = 10.0
RETRY_S = 1.0
# Podman's refusals of a log read in a row (a half-written line at its end) before giving up.
MAX_REFUSED = 20
# Bytes a buffered line costs beyond its text (the deque slot, the object).
LINE_OVERHEAD = 100
# Records in aiokafka's hands at once; the rest waits in our bounded buffers.
MAX_IN_FLIGHT = 2000
STATUS_FILE = "status.json"

Connect = Callable[[], docker.DockerClient]
# What ends a stream or a call when the engine goes away (or our own close cuts the stream).
_DOCKER_ERRORS = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


@dataclass(frozen=True)
class Shipping:
    """What one followed container has done, for the menu and `logtray doctor`."""

    name: str
    service: str
    following: bool
    lines: int
    shipped: int
    dropped: int


class _Watched:
    """One chosen container: its buffer (filled by its follower thread), its joiner and the
    lines fed to it (loop only), its position and counters."""

    def __init__(self, cid: str, name: str, service: str, position: Position | None) -> None:
        self.id = cid
        self.name = name
        self.service = service
        self.key = cid.encode()
        self.position = position  # the last line Kafka took (moves on acks, on the loop)
        self.saved = position
        self.raw: collections.deque[Stamped] = collections.deque()
        self.raw_bytes = 0
        self.lock = threading.Lock()
        self.room = threading.Event()  # set by the sender when it took lines of the buffer
        self.ended = True  # no follower runs
        self.joiner: Joiner | None = None
        # The last line fed to the joiner (loop only): where the position goes when an entry
        # ends (a line's own stamp; the joiner holds no more than the entry it began).
        self.last: Stamped | None = None
        # Lines fed to the joiner and not yet in a batch sent (loop only): a batch's lines make
        # the position's digests when Kafka takes it.
        self.fed: list[Stamped] = []
        self.last_fed = 0.0
        self.in_flight = 0
        self.stream: Any = None
        self.partition: int | None = None  # its records' partition of the topic (one: in order)
        self.ended_news = False  # its follower ended: tell the reconciler once it is settled
        self.lines = 0
        self.shipped = 0
        self.dropped = 0

    def settled(self) -> bool:
        """Nothing of the last follower is left to ship or acknowledge."""
        holding = self.joiner is not None and self.joiner.holding
        return self.ended and not self.raw and not holding and self.in_flight == 0


class Shipper:
    """Ships the chosen containers' output while it runs (`start`, `stop`)."""

    def __init__(
        self,
        connect: Connect,
        config: ShipConfig,
        bootstrap: str,
        state_dir: Path,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.positions = PositionStore(state_dir / "positions")
        self.state_dir = state_dir
        self._connect = connect
        self._producer_options = producer_options or {}
        self._watched: dict[str, _Watched] = {}
        self._watched_lock = threading.Lock()
        self._stopping = threading.Event()
        self._kick = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._threads: list[threading.Thread] = []
        self._events_stream: Any = None
        self._told: set[str] = set()
        # What is wrong now, in one sentence with its fix (None: nothing).
        self.problem: str | None = None
        self.connected = False
        # Kafka could not be reached at the last try: lines beyond the buffers are dropped (while
        # it takes them, however slowly, the followers wait for room instead).
        self.kafka_down = False
        self._pruned = False
        # When shipping began (this machine's clock, as the engine's stamps here): a container
        # shipped for the first time starts a look-back before it (Position.first).
        self.started_ns = time.time_ns()

    # -- lifecycle (any thread) -----------------------------------------------------------------
    def start(self) -> None:
        self.started_ns = time.time_ns()
        ready = threading.Event()
        sender = threading.Thread(target=self._run_loop, args=(ready,), name="ship-send")
        sender.daemon = True
        sender.start()
        ready.wait(10)
        for target, name in ((self._watch_events, "ship-events"), (self._reconciler, "ship-list")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._threads.append(sender)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following; wait (up to `timeout`) until what Kafka was given is acknowledged and
        every position is saved. Lines read but not shipped are read again at the next start."""
        self._stopping.set()
        self._kick.set()
        for closable in [self._events_stream, *(w.stream for w in self._all())]:
            if closable is not None:
                with contextlib.suppress(Exception):
                    closable.close()
        self._wake_loop()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, end - time.monotonic()))

    def snapshot(self) -> list[Shipping]:
        return sorted(
            (
                Shipping(w.name, w.service, not w.ended, w.lines, w.shipped, w.dropped)
                for w in self._all()
            ),
            key=lambda s: s.name,
        )

    def buffered_bytes(self) -> int:
        """What the buffers hold now, all containers together (at most [ship] buffer_bytes)."""
        return sum(w.raw_bytes for w in self._all())

    def _all(self) -> list[_Watched]:
        with self._watched_lock:
            return list(self._watched.values())

    def _tell(self, key: str, text: str) -> None:
        """Say a problem once (until `_clear(key)`); it is also `problem` for the menu."""
        self.problem = text
        if key not in self._told:
            self._told.add(key)
            log.warning("%s", text)

    def _clear(self, key: str, text: str) -> None:
        if key in self._told:
            self._told.discard(key)
            self.problem = None
            log.info("%s", text)

    # -- which containers (reconcile thread) ----------------------------------------------------
    def _reconciler(self) -> None:
        client: docker.DockerClient | None = None
        while not self._stopping.is_set():
            try:
                client = client or self._connect()
                self._reconcile(client)
                self._clear("engine", "container engine is back: following containers again")
            except _DOCKER_ERRORS as exc:
                self._tell(
                    "engine",
                    f"cannot list containers to ship their logs ({type(exc).__name__}); "
                    "start Docker (or Podman's API service), shipping resumes by itself",
                )
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
                client = None
            self._kick.wait(RECONCILE_S)
            self._kick.clear()
        if client is not None:
            client.close()

    def _reconcile(self, client: docker.DockerClient) -> None:
        summaries = client.api.containers(all=True)
        if not self._pruned:
            self.positions.prune({str(s.get("Id", "")) for s in summaries})
            self._pruned = True
        present: set[str] = set()
        for summary in summaries:
            cid = str(summary.get("Id") or "")
            names = summary.get("Names") or [""]
            name = str(names[0] if names else "").lstrip("/")[:MAX_NAME]
            labels = summary.get("Labels") or {}
            if not cid or not chosen(name, labels, self.config):
                continue
            present.add(cid)
            running = summary.get("State") == "running"
            with self._watched_lock:
                watched = self._watched.get(cid)
                if watched is None:
                    if len(self._watched) >= self.config.max_containers:
                        self._tell(
                            "too-many",
                            f"more than {self.config.max_containers} containers chosen to ship; "
                            f"{name} and later ones are not followed: narrow [ship] or raise "
                            "[ship] max_containers",
                        )
                        continue
                    watched = _Watched(
                        cid, name, service_of(name, labels), self.positions.load(cid)
                    )
                    self._watched[cid] = watched
            if running and watched.settled() and not self._stopping.is_set():
                if watched.position is None:
                    try:
                        self._first_position(client, watched)
                    except docker.errors.NotFound:
                        continue  # removed since the listing
                self._follow(watched)
        with self._watched_lock:
            for cid in [c for c, w in self._watched.items() if c not in present and w.settled()]:
                del self._watched[cid]

    def _first_position(self, client: docker.DockerClient, watched: _Watched) -> None:
        """A container shipped for the first time starts at [ship] first_look_back_s before
        shipping began, or its whole run (Position.first). That is its position at once, saved
        by the sender: a later start of the shipper reads on from there even if it printed
        nothing meanwhile. No follower runs and nothing is in flight for it (settled): nothing
        else moves it now."""
        info = client.api.inspect_container(watched.id)
        state = info.get("State") if isinstance(info, dict) else None
        started = state.get("StartedAt") if isinstance(state, dict) else None
        watched.position = Position.first(
            str(started or ""), self.started_ns, self.config.first_look_back_s
        )
        self._wake_loop()

    def _watch_events(self) -> None:
        """Each container start, stop or removal asks for a reconciliation at once."""
        while not self._stopping.is_set():
            client: docker.DockerClient | None = None
            try:
                client = self._connect()
                stream = client.events(
                    decode=True,
                    filters={"type": "container", "event": ["start", "die", "destroy"]},
                )
                self._events_stream = stream
                if self._stopping.is_set():
                    stream.close()
                for _event in stream:
                    self._kick.set()
            except _DOCKER_ERRORS:
                pass  # the reconciler says it; the stream is opened again below
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
            self._kick.set()
            self._stopping.wait(RETRY_S)

    # -- one container's stream (its follower thread) -------------------------------------------
    def _follow(self, watched: _Watched) -> None:
        watched.ended = False
        watched.joiner = Joiner(self.config.max_entry_lines, self.config.max_entry_bytes)
        watched.fed = []
        thread = threading.Thread(
            target=self._read, args=(watched,), name=f"ship-{watched.name[:20]}", daemon=True
        )
        thread.start()

    def _read(self, watched: _Watched) -> None:
        client: docker.DockerClient | None = None
        try:
            client = self._connect()
            if is_podman(client):
                self._poll(watched, client)
            else:
                self._stream(watched, client)
        except _DOCKER_ERRORS as exc:
            if not self._stopping.is_set():
                log.info("the log stream of %s ended (%s)", watched.name, type(exc).__name__)
        except Exception:  # one container's stream must never take the shipper down
            log.exception("the log stream of %s failed", watched.name)
        finally:
            watched.stream = None
            watched.ended_news = True
            watched.ended = True
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            self._wake_loop()

    def _stream(self, watched: _Watched, client: docker.DockerClient) -> None:
        """Docker: one followed stream from the position on, until the container stops."""
        resume = watched.position
        _, tty = container_state(client, watched.id)
        since = None if resume is None else resume.since()
        stream, chunks, _ = open_logs(client, watched.id, since, follow=True, tty=tty)
        watched.stream = stream
        if self._stopping.is_set():
            stream.close()
        splitter = LineSplitter(self.config.max_entry_bytes)
        ranker = Ranker()
        skip = Resume(resume)
        for chunk in chunks:
            for raw in splitter.feed(chunk):
                self._line(watched, ranker, raw, skip)
        for raw in splitter.flush():
            self._line(watched, ranker, raw, skip)

    def _poll(self, watched: _Watched, client: docker.DockerClient) -> None:
        """Podman: reads to the log's end, again and again (polled.py says why), until a read
        begun after the container stopped."""
        mark = ReadMark(watched.position)
        tail: int | None = None  # the first read is whole: it recovers what the last missed
        pause = POLL_MIN_S
        refused = 0
        while not self._stopping.is_set():
            running, tty = container_state(client, watched.id)
            try:
                new, again = self._read_polled(watched, client, mark, running, tty, tail)
            except docker.errors.APIError as exc:
                # Podman's tail reader fails on a line it meets half written at the log's
                # end (a 500); the next read finds it whole. Other refusals end the follower.
                refused += 1
                if not exc.is_server_error() or refused > MAX_REFUSED:
                    raise
                self._stopping.wait(POLL_MIN_S)
                continue
            refused = 0
            tail = first_tail(again)
            if not running:
                return  # this read began after it stopped: it had every line
            pause = POLL_MIN_S if new else min(POLL_MAX_S, pause * 2)
            self._stopping.wait(pause)

    def _read_polled(
        self,
        watched: _Watched,
        client: docker.DockerClient,
        mark: ReadMark,
        running: bool,
        tty: bool,
        tail: int | None,
    ) -> tuple[int, int]:
        """One poll: reads, each asking for more lines than the last when its tail may have
        left some out. (Lines taken, lines the next read returns again.)"""
        while True:
            try:
                return self._read_once(watched, client, mark, running, tty, tail)
            except Cut as cut:
                tail = None if cut.too_big else next_tail(tail)

    def _read_once(
        self,
        watched: _Watched,
        client: docker.DockerClient,
        mark: ReadMark,
        running: bool,
        tty: bool,
        tail: int | None,
    ) -> tuple[int, int]:
        """One read from the mark's second to the log's end; the lines not read before go to
        the buffer: (their count, those the next read returns again). Raises `Cut`, nothing
        taken, when its tail may have left lines out."""
        stream, chunks, engine_second = open_logs(
            client, watched.id, mark.since(), False, tty, tail
        )
        watched.stream = stream
        try:
            if self._stopping.is_set():
                return 0, 0
            splitter = LineSplitter(self.config.max_entry_bytes)
            lines = _split(chunks, splitter)
            if tail is not None:
                held: list[bytes] = []
                size = 0
                for raw in lines:
                    held.append(raw)
                    size += len(raw)
                    if size > TAIL_BYTES:
                        raise Cut(too_big=True)
                if not whole(sum(1 for raw in held if parse_stamp(raw)), tail):
                    raise Cut
                lines = iter(held)
            read = Read(mark, running)
            new = 0
            for line in read.lines(lines):
                self._buffer(watched, line)
                new += 1
            mark.closed(engine_second)
            log.debug(
                "read the log of %s (tail %s): %d lines, %d new; next since %s",
                watched.name,
                tail,
                read.returned,
                new,
                mark.since(),
            )
            return new, read.again()
        finally:
            watched.stream = None
            stream.close()

    def _line(self, watched: _Watched, ranker: Ranker, raw: bytes, skip: Resume) -> None:
        parsed = parse_stamp(raw)
        if parsed is None:
            return  # not a stamped line: the engine always stamps; nothing of the container's
        line = ranker.stamp(*parsed)
        if not skip.new(line.ns, line.rank, line.text):
            return  # shipped before this follower started
        self._buffer(watched, line)

    def _buffer(self, watched: _Watched, line: Stamped) -> None:
        """Into the container's buffer share; waits for room while Kafka takes lines."""
        watched.lines += 1
        cost = len(line.text) + LINE_OVERHEAD
        while True:
            share = self.config.buffer_bytes // max(1, len(self._watched))
            with watched.lock:
                if watched.raw_bytes + cost <= share:
                    was_empty = not watched.raw
                    watched.raw.append(line)
                    watched.raw_bytes += cost
                    break
                watched.room.clear()
            if self._stopping.is_set():
                return  # not shipped, not lost: read again at the next start
            if self.kafka_down:
                watched.dropped += 1
                self._tell(
                    "full",
                    f"Kafka at {self.bootstrap} does not take container logs; each "
                    "container's lines wait in a bounded buffer, the rest are dropped and "
                    "counted (`logtray doctor`): start the stack (`logtray stack up`) or check "
                    "[engine] bootstrap",
                )
                return
            # Kafka takes them, more slowly than the engine reads them (a backlog): wait for
            # room. The engine keeps the log; this thread reads on when the sender caught up.
            self._wake_loop()
            watched.room.wait(0.2)
        if was_empty:
            self._wake_loop()

    # -- sending (the loop's thread) ------------------------------------------------------------
    def _wake_loop(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(wake.set)

    def _run_loop(self, ready: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            ready.set()
            await self._send_forever()

        try:
            asyncio.run(main())
        finally:
            ready.set()

    async def _send_forever(self) -> None:
        from aiokafka import AIOKafkaProducer

        assert self._wake is not None
        while not self._stopping.is_set():
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                linger_ms=5,
                max_batch_size=512 * 1024,
                max_request_size=2 * 1024 * 1024,
                request_timeout_ms=10_000,
                **self._producer_options,
            )
            try:
                await producer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                self.connected = False
                self.kafka_down = True
                self._tell(
                    "kafka",
                    f"cannot reach Kafka at {self.bootstrap} to ship container logs "
                    f"({type(exc).__name__}); lines wait in a bounded buffer, then are dropped "
                    "and counted: start the stack (`logtray stack up`) or check [engine] "
                    "bootstrap",
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopped(), RETRY_S)
                continue
            self.connected = True
            self.kafka_down = False
            self._clear("kafka", f"Kafka at {self.bootstrap} takes container logs again")
            self._clear("full", "container logs are shipped again")
            try:
                await self._pump(producer)
            except Exception:  # a bug here must not end the shipping: log it, start again
                log.exception("shipping container logs failed; starting the sender again")
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.flush(), 10.0)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 10.0)
                self._save_positions(force=True)

    async def _stopped(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(0.1)

    async def _pump(self, producer: Any) -> None:
        assert self._wake is not None
        saved_at = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            progressed = False
            holding = False
            for watched in self._all():
                progressed |= await self._turn(producer, watched)
                holding |= watched.joiner is not None and watched.joiner.holding
                if watched.ended_news and watched.settled():
                    watched.ended_news = False
                    self._kick.set()  # its follower ended: the reconciler may start another
            now = time.monotonic()
            if now - saved_at >= 0.2:
                self._save_positions()
                saved_at = now
            if progressed:
                await asyncio.sleep(0)
                continue
            timeout = QUIET_S / 4 if holding or self._dirty() else None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _turn(self, producer: Any, watched: _Watched) -> bool:
        """Up to TURN of this container's lines into entries, their records on to Kafka."""
        joiner = watched.joiner
        if joiner is None:
            return False
        values: list[bytes] = []
        end: Stamped | None = None
        cut = 0  # watched.fed[:cut]: the lines of `values`
        taken = 0
        while taken < TURN and watched.raw and self.in_flight() < MAX_IN_FLIGHT:
            with watched.lock:
                line = watched.raw.popleft()
                watched.raw_bytes -= len(line.text) + LINE_OVERHEAD
            taken += 1
            before, watched.last = watched.last, line
            watched.last_fed = time.monotonic()
            watched.fed.append(line)
            entries = joiner.feed(line.text, line.ns / NS)
            if entries or not joiner.holding:
                # What the joiner holds now is the line just fed (an entry it began), or
                # nothing: every line before it is in these entries.
                end = (before if joiner.holding else line) or end
                cut = len(watched.fed) - (1 if joiner.holding else 0)
                values += self._records(watched, entries)
        quiet = time.monotonic() - watched.last_fed >= QUIET_S
        if not watched.raw and joiner.holding and (quiet or watched.ended):
            values += self._records(watched, joiner.flush())
            end = watched.last or end
            cut = len(watched.fed)
        if taken:
            watched.room.set()
        lines = [(s.ns, s.rank, digest(s.ns, s.text)) for s in watched.fed[:cut]]
        del watched.fed[:cut]
        if values:
            await self._send(producer, watched, values, lines)
        return taken > 0

    def _records(self, watched: _Watched, entries: list[Entry]) -> list[bytes]:
        out = []
        for entry in entries:
            try:
                record = record_from_entry(entry, watched.service, watched.name)
                out.append(orjson.dumps(record, default=str))
            except Exception:  # a bug in the reading must not stop the shipping
                log.exception("cannot make a record of a line of %s", watched.name)
                watched.dropped += 1
        return out

    async def _send(
        self, producer: Any, watched: _Watched, values: list[bytes], end: list[tuple[int, int, str]]
    ) -> None:
        """Hand the records to aiokafka in batches for the container's partition; when the
        last batch is acknowledged, the container's position moves past `end`, the records'
        lines ((ns, rank, digest), in order). aiokafka has
        one batch of a partition in flight at a time: they are acknowledged in order."""
        if watched.partition is None:
            try:
                partitions = sorted(await producer.partitions_for(self.config.topic))
                watched.partition = partitions[zlib.crc32(watched.key) % len(partitions)]
            except Exception as exc:  # no metadata: Kafka went away meanwhile
                self._failed(watched, exc, len(values))
                return
        batch, count = producer.create_batch(), 0
        for value in values:
            if batch.append(key=watched.key, value=value, timestamp=None) is not None:
                count += 1
                continue
            if count:  # full: send it, go on in a new one
                await self._send_batch(producer, watched, batch, count, [])
            batch, count = producer.create_batch(), 0
            if batch.append(key=watched.key, value=value, timestamp=None) is None:
                self._failed(watched, ValueError("a record bigger than a batch"))
            else:
                count = 1
        if count:
            await self._send_batch(producer, watched, batch, count, end)

    async def _send_batch(
        self,
        producer: Any,
        watched: _Watched,
        batch: Any,
        count: int,
        end: list[tuple[int, int, str]],
    ) -> None:
        batch.close()
        watched.in_flight += count
        try:
            future = await producer.send_batch(
                batch, self.config.topic, partition=watched.partition
            )
        except Exception as exc:
            watched.in_flight -= count
            self._failed(watched, exc, count)
            return
        future.add_done_callback(lambda f: self._settled(f, watched, count, end))

    def _settled(
        self,
        future: asyncio.Future[Any],
        watched: _Watched,
        count: int,
        end: list[tuple[int, int, str]],
    ) -> None:
        watched.in_flight -= count
        if future.cancelled() or future.exception() is not None:
            self._failed(watched, future.exception() if not future.cancelled() else None, count)
            return
        watched.shipped += count
        position = moved(watched.position, end)  # never behind watched.position
        if position is not None:
            watched.position = position
            if self._wake is not None:
                self._wake.set()  # an idle sender saves it now, not at the next line

    def _failed(self, watched: _Watched, exc: BaseException | None, count: int = 1) -> None:
        watched.dropped += count
        self._tell(
            "kafka-send",
            f"Kafka at {self.bootstrap} refused container logs ({type(exc).__name__}); the "
            "records are dropped and counted (`logtray doctor`): check that the stack runs "
            "(`logtray stack status`)",
        )

    def in_flight(self) -> int:
        """Records handed to Kafka and not yet acknowledged (or refused)."""
        return sum(w.in_flight for w in self._all())

    def holding(self) -> bool:
        """Whether an entry is being joined (it is shipped when it ends, or after a pause)."""
        return any(w.joiner is not None and w.joiner.holding for w in self._all())

    def _dirty(self) -> bool:
        return any(not _same(w.position, w.saved) for w in self._all())

    def _save_positions(self, force: bool = False) -> None:
        for watched in self._all():
            position = watched.position
            if position is not None and (force or not _same(position, watched.saved)):
                try:
                    self.positions.save(watched.id, position, watched.name)
                    watched.saved = position
                except OSError as exc:
                    self._tell(
                        "positions",
                        f"cannot save where shipping stands in {self.state_dir} "
                        f"({exc.strerror}): make the folder writable (until then a restart "
                        "ships lines again)",
                    )
        self._write_status()

    def _write_status(self) -> None:
        """The counts for `logtray doctor` (another process)."""
        data = {
            "at": time.time(),
            "bootstrap": self.bootstrap,
            "connected": self.connected,
            "problem": self.problem,
            "containers": [dataclasses.asdict(s) for s in self.snapshot()],
        }
        with contextlib.suppress(OSError):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / f".{STATUS_FILE}.tmp"
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(self.state_dir / STATUS_FILE)


def _same(a: Position | None, b: Position | None) -> bool:
    """Positions equal, their digests too (equality of positions leaves the digests out)."""
    return a == b and (a is None or b is None or a.seen == b.seen)


def _split(chunks: Iterator[bytes], splitter: LineSplitter) -> Iterator[bytes]:
    """The lines of a stream's chunks, the last one too when the stream ends without a newline."""
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last counts a shipper wrote (None: none, or not readable)."""
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text(encoding="utf-8")[:1_000_000])
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
