"""The known error kinds, kept in a compacted Kafka topic ("logtray-kinds").

One message per kind: key "<service>\\n<id>", value the kind as JSON (`KnownKind.to_json`); a
forgotten kind's key gets a tombstone (no value). With the topic compacted, Kafka keeps the
latest message of each key; without (a broker that does not compact), reading the whole topic
and keeping the latest per key gives the same state, only slower. Read on start by the engine
(`read_kinds`) and by `logtray kinds`; written by the engine (`KindKeeper`) and by
`logtray kinds resolve|mute|reopen`.

Every message is a stranger's: a value that is not a kind is skipped, never raised; reading is
bounded in records and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any, TypeGuard

import orjson

from logtray.pipeline.kinds import ID_CHARS, KnownKind, State, known_from_json
from logtray.pipeline.record import MAX_NAME
from logtray.tray.alerts.kafka_source import describe_kafka_error, quiet_aiokafka
from logtray.tray.alerts.producer_task import produce_forever, send_all
from logtray.tray.base.errors import LogtrayError

log = logging.getLogger(__name__)

# Read at most this many messages on start (a topic never compacted may hold many per kind).
MAX_READ = 1_000_000
READ_TIMEOUT_S = 30.0
TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


async def _started(client: Any) -> None:
    """Start an aiokafka client; one that fails to start is stopped (it holds a connection)."""
    try:
        await client.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.stop()
        raise


def kind_key(service: str, kind_id: str) -> bytes:
    return f"{service}\n{kind_id}".encode("utf-8", "surrogatepass")


# Set in what `logtray kinds resolve|mute|reopen` writes: a running engine takes over those
# states, never its own writes read back (an old one of them could undo a newer command).
SET_BY = "set_by"
COMMAND = "command"


def encode_kind(known: KnownKind, by: str | None = None) -> tuple[bytes, bytes]:
    value = known.to_json()
    if by is not None:
        value[SET_BY] = by
    return kind_key(*known.key), orjson.dumps(value)


def commanded(messages: list[tuple[bytes | None, bytes | None]]) -> list[KnownKind]:
    """The kinds whose state the command set, among messages (key, value) in order."""
    marked: list[tuple[bytes | None, bytes | None]] = []
    for key, value in messages:
        if value is not None and len(value) <= 64 * 1024 and b'"set_by"' in value:
            try:
                by = orjson.loads(value).get(SET_BY)
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if by == COMMAND:
                marked.append((key, value))
    return latest(marked)


def decode_kind(value: bytes | None) -> KnownKind | None:
    if value is None or len(value) > 64 * 1024:
        return None
    try:
        return known_from_json(orjson.loads(value))
    except orjson.JSONDecodeError:
        return None


def latest(messages: list[tuple[bytes | None, bytes | None]]) -> list[KnownKind]:
    """The kinds a topic's messages (key, value), in order, leave: the latest per key, none
    for a key whose latest is a tombstone or not a kind."""
    state: dict[bytes, KnownKind | None] = {}
    for key, value in messages:
        if key is None:
            continue
        known = decode_kind(value)
        if known is not None and kind_key(*known.key) != key:
            known = None  # a key that does not name its kind: not ours
        state[key] = known
    return [known for known in state.values() if known is not None]


async def ensure_topic(bootstrap: str, topic: str, options: dict[str, Any]) -> None:
    """Create the topic compacted if it is not there (a broker that refuses: said, not fatal)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    try:
        await admin.start()
        if topic in await admin.list_topics():
            return
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=TOPIC_CONFIG)])
    except TopicAlreadyExistsError:
        pass
    except Exception as exc:
        log.info("could not create %s compacted (%s): it is read whole", topic, exc)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def read_kinds(
    bootstrap: str, topic: str, options: dict[str, Any], timeout_s: float = READ_TIMEOUT_S
) -> list[KnownKind]:
    """Every kind the topic keeps (read from its start to its end when called)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    quiet_aiokafka()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **options
    )
    messages: list[tuple[bytes | None, bytes | None]] = []
    await _started(consumer)
    try:

        async def read() -> None:
            if topic not in await consumer.topics():  # also fetches the topics' metadata
                return
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                return
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            left = {tp for tp in tps if ends[tp] > 0}
            for tp in tps:
                if tp in left and await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
            while left and len(messages) < MAX_READ:
                batches = await consumer.getmany(*left, timeout_ms=500, max_records=10_000)
                for tp, records in batches.items():
                    messages.extend((r.key, r.value) for r in records)
                    if records and records[-1].offset + 1 >= ends[tp]:
                        left.discard(tp)

        await asyncio.wait_for(read(), timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5.0)
    return latest(messages)


async def read_recent(
    bootstrap: str,
    topic: str,
    options: dict[str, Any],
    since: float,
    on_values: Callable[[list[bytes | None]], None],
    max_records: int = 200_000,
    timeout_s: float = READ_TIMEOUT_S,
) -> int:
    """Hand the log records of `topic` from `since` (epoch seconds) to its end at the call to
    `on_values`, in batches; at most `max_records`. How many were read. (A first start
    learns the kinds its services had lately: pipeline/kinds.py.)"""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    quiet_aiokafka()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **options
    )
    read = 0
    await _started(consumer)
    try:

        async def go() -> None:
            nonlocal read
            if topic not in await consumer.topics():
                return
            tps = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not tps:
                return
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.offsets_for_times({tp: int(since * 1000) for tp in tps})
            left = set()
            for tp in tps:
                found = starts.get(tp)
                if found is not None and found.offset < ends[tp]:
                    consumer.seek(tp, found.offset)
                    left.add(tp)
            while left and read < max_records:
                batches = await consumer.getmany(*left, timeout_ms=500, max_records=5_000)
                for tp, records in batches.items():
                    values = [r.value for r in records if r.offset < ends[tp]]
                    read += len(values)
                    on_values(values)
                    if records and records[-1].offset + 1 >= ends[tp]:
                        left.discard(tp)

        await asyncio.wait_for(go(), timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 5.0)
    return read


class KindKeeper:
    """What the engine's kinds changed, sent to the topic by a task (`run`). The pending
    messages are one per kind (the latest wins), so at most as many as kinds are known."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        options: dict[str, Any] | None = None,
        *,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._options = options or {}
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._on_status = on_status
        self._pending: dict[bytes, bytes | None] = {}
        self._wake = asyncio.Event()
        self.kept = 0

    def take_over(self, other: KindKeeper) -> None:
        """What `other` (the keeper at the old address) had not sent yet."""
        for key, value in other._pending.items():
            self._pending.setdefault(key, value)
        other._pending.clear()
        if self._pending:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def keep(self, changed: list[KnownKind], gone: list[tuple[str, str]]) -> None:
        """Queue kinds to keep and kinds to delete (on the loop thread); never blocks."""
        for known in changed:
            key, value = encode_kind(known)
            self._pending.pop(key, None)
            self._pending[key] = value
        for service, kind_id in gone:
            key = kind_key(service, kind_id)
            self._pending.pop(key, None)
            self._pending[key] = None
        if self._pending:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send what is pending until `stop`, then once more (bounded)."""

        async def cannot_start(exc: Exception) -> None:
            self._say(
                f"cannot keep error kinds in {self.topic} at {self.bootstrap}: "
                f"{describe_kafka_error(exc)}; retrying (they are kept in memory)"
            )

        def lost(exc: Exception) -> None:
            self._say(f"lost Kafka at {self.bootstrap} ({describe_kafka_error(exc)})")

        await produce_forever(
            self.bootstrap,
            self._options,
            self._send,
            self._wake,
            stop,
            retry_s=self.retry_s,
            max_retry_s=self.max_retry_s,
            cannot_start=cannot_start,
            lost=lost,
            last_try=True,  # the engine's last changes are kept when it stops
            pause_after_loss=False,
        )

    async def _send(self, producer: Any) -> bool:
        if not self._pending:
            return False
        batch = list(self._pending.items())
        self._pending.clear()
        try:
            await send_all(producer, self.topic, batch)
        except BaseException:
            for key, value in batch:  # not lost: sent again, unless newer
                self._pending.setdefault(key, value)
            raise
        self.kept += len(batch)
        return True

    def _say(self, text: str) -> None:
        log.warning("%s", text)
        if self._on_status:
            self._on_status(text)


async def write_kinds(
    bootstrap: str, topic: str, options: dict[str, Any], kinds: list[KnownKind]
) -> None:
    """Write kinds once (the `logtray kinds` command's resolve and mute)."""
    from aiokafka import AIOKafkaProducer

    quiet_aiokafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **options)
    await _started(producer)
    try:
        for known in kinds:
            key, value = encode_kind(known, COMMAND)
            await producer.send_and_wait(topic, value, key=key)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5.0)


_KIND_ID = re.compile(f"[0-9a-f]{{{ID_CHARS}}}")


def is_kind_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _KIND_ID.fullmatch(value) is not None


def checked_kind(kind_id: object, service: object) -> tuple[str, str | None]:
    """A kind's id and service as a stranger gave them (a popup's alert, the command line),
    checked before anything is read or written: the id is 12 lowercase hex digits, the service
    (None: any) a name of at most 200 characters."""
    if not is_kind_id(kind_id):
        shown = repr(kind_id)[:40]
        raise LogtrayError(
            f"{shown} is not an error kind's id (12 hex digits)",
            fix="`logtray kinds` lists the kinds and their ids",
        )
    if service is not None and (not isinstance(service, str) or len(service) > MAX_NAME):
        raise LogtrayError(
            f"the service {repr(service)[:60]} is not a service name of at most {MAX_NAME} "
            "characters",
            fix="`logtray kinds` lists the kinds and their services",
        )
    return kind_id, service


async def set_kind_state(
    bootstrap: str,
    topic: str,
    options: dict[str, Any],
    kind_id: str,
    service: str | None,
    state: State,
) -> list[KnownKind]:
    """Mark one kept kind `state` in the topic, as `logtray kinds resolve|mute|reopen` and a
    popup's Resolve do: the kind is read from the topic (its kept fields, so the message is a
    whole kind that both books read), written again with its new state and marked as the
    command's (a running engine or Riemann takes it over). `service` None: the kind's one
    service. The kinds written; every failure is a LogtrayError of one sentence."""
    kind_id, service = checked_kind(kind_id, service)
    try:
        kept = await read_kinds(bootstrap, topic, options)
    except Exception as exc:
        raise LogtrayError(
            f"cannot read the error kinds from {topic} at {bootstrap}: {describe_kafka_error(exc)}",
            fix="check that the stack's Kafka runs (`logtray stack status`)",
        ) from exc
    kinds = [
        k for k in kept if k.kind.id == kind_id and (service is None or k.kind.service == service)
    ]
    if not kinds:
        raise LogtrayError(
            f"no error kind {kind_id!r}"
            + (f" of {service!r}" if service is not None else "")
            + f" is kept in {topic} at {bootstrap}",
            fix="`logtray kinds` lists the kinds and their ids",
        )
    if len(kinds) > 1:  # only without a service: one id, one kind per service
        services = ", ".join(repr(k.kind.service) for k in kinds)
        raise LogtrayError(
            f"the kind {kind_id} is known for several services ({services})",
            fix="name one with --service",
        )
    changed = [dataclasses.replace(k, state=state) for k in kinds]
    try:
        await write_kinds(bootstrap, topic, options, changed)
    except Exception as exc:
        raise LogtrayError(
            f"cannot write to {topic} at {bootstrap}: {describe_kafka_error(exc)}",
            fix="check that the stack's Kafka runs (`logtray stack status`)",
        ) from exc
    return changed
