"""Consume a Kafka topic for as long as asked, surviving a broker that is down or restarts.

Shared by the rule engine (program-logs) and the alerts-topic subscription. The consumer takes
every partition itself (no group membership, no rebalancing), so every desktop reads every
message and no desktop steals another's. With a `Resume`, it reads from the position it last
committed under a group id of its own (Kafka keeps it), committed only once `durable()` said
what was read is kept (at least once; the reader drops what it already has by alert id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from logtray.tray.base.config import KafkaConnection
from logtray.tray.base.errors import LogtrayError

log = logging.getLogger(__name__)

Records = list[Any]  # aiokafka ConsumerRecord objects
# A consumer not started by then is probed for a cause (aiokafka itself waits 40 s).
SLOW_START_S = 5.0


@dataclass(frozen=True)
class Committed:
    """Where a partition was left: the next offset to read, and when that was committed
    (epoch seconds; None when the commit did not say)."""

    offset: int
    at: float | None


@dataclass(frozen=True)
class Resume:
    """Read from this reader's own committed position (`group`: a group id no one else uses).

    `durable()` is called before each commit: what `on_records` took must be kept by then
    (the alert history flushed), so a kill after the commit loses nothing. A partition with no
    committed position starts at its end (or where `on_start` seeks it)."""

    group: str
    durable: Callable[[], None]


def security_options(settings: KafkaConnection) -> dict[str, Any]:
    """aiokafka's security options for a consumer or producer (only those that apply): the one
    place that turns [engine]'s and [alerts_topic]'s connection keys into them."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password,
        )
    if settings.security_protocol.endswith("SSL"):
        import ssl

        from aiokafka.helpers import create_ssl_context

        def path(value: str) -> str | None:
            return os.path.expanduser(value) if value else None

        cafile = path(settings.ssl_cafile)
        try:
            # Server verification and host name checking on (create_ssl_context's defaults).
            context = create_ssl_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise LogtrayError(
                f"cannot use the CA certificate {cafile} (ssl_cafile): {_reason(exc)}",
                fix="set ssl_cafile to the team's CA certificate file (PEM), or empty for "
                "the system's CAs",
            ) from None
        if settings.ssl_certfile:
            certfile, keyfile = path(settings.ssl_certfile), path(settings.ssl_keyfile)
            try:
                context.load_cert_chain(certfile or "", keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise LogtrayError(
                    f"cannot use the client certificate {certfile} (ssl_certfile, ssl_keyfile):"
                    f" {_reason(exc)}",
                    fix="set ssl_certfile and ssl_keyfile to your certificate and its key "
                    "(PEM), or empty when the broker asks for none",
                ) from None
        options["ssl_context"] = context
    return options


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc)


async def consume_forever(
    topic: str,
    bootstrap: str,
    on_records: Callable[[Records], None],
    stop: asyncio.Event,
    *,
    options: dict[str, Any] | None = None,
    retry_s: float = 1.0,
    max_retry_s: float = 30.0,
    on_status: Callable[[str], None] | None = None,
    on_start: Callable[[Any, dict[Any, Committed]], Awaitable[None]] | None = None,
    resume: Resume | None = None,
) -> None:
    """Feed batches of records to `on_records` until `stop` is set. Never raises for Kafka.

    `on_start(consumer, committed)` is awaited each time a consumer has started (its partitions
    assigned; with `resume`, at their committed positions, given in `committed`) and before it
    reads: it may read on its own and seek (the alerts topic's catch-up); what it raises counts
    as a lost connection. With `resume`, the positions are committed after `on_start` and
    after each batch, once `resume.durable()` returned.

    A down broker, a refused certificate or login is one log line with its cause (not one per
    retry, and never a traceback); it is retried after `retry_s` seconds, the pause doubling
    up to `max_retry_s`. aiokafka reconnects a started consumer by itself.
    """
    from aiokafka import AIOKafkaConsumer

    from logtray.tray.alerts.kafka_diagnosis import probe

    quiet_aiokafka()
    said_down = False
    pause = retry_s

    def say_down(reason: str) -> None:
        nonlocal said_down
        said_down = True
        text = (
            f"cannot reach Kafka at {bootstrap} ({topic}): {reason}; retrying, "
            f"up to every {max_retry_s:g} s"
        )
        log.warning("%s", text)
        if on_status:
            on_status(text)

    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            *(() if resume else (topic,)),
            bootstrap_servers=bootstrap,
            group_id=resume.group if resume else None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            metadata_max_age_ms=5_000,  # notice a topic recreated by a restarted broker soon
            **(options or {}),
        )
        starting = asyncio.ensure_future(consumer.start())
        try:
            slow = not await _within(starting, stop, SLOW_START_S)
            if slow and not said_down and not stop.is_set():
                # A broker that answers but cannot be used (it advertises an address we
                # cannot reach) holds start() for aiokafka's request timeout (40 s): say why
                # now, if a probe can tell.
                problem = await probe(bootstrap, options or {})
                if problem is not None:
                    say_down(str(problem))
            if not await _within(starting, stop, None):  # stopped while starting
                starting.cancel()
                with contextlib.suppress(BaseException):
                    await starting
                await stop_client(consumer)
                return
            starting.result()  # what start() raised, if it did
            committed = await _assign(consumer, topic) if resume else {}
        except asyncio.CancelledError:
            starting.cancel()
            raise
        except Exception as exc:
            await stop_client(consumer)  # a half-started consumer still holds its client
            if not said_down:
                problem = await probe(bootstrap, options or {})
                say_down(str(problem) if problem else describe_start_error(exc, topic))
            await wait_or_stop(stop, pause)
            pause = min(pause * 2, max_retry_s)
            continue
        pause = retry_s
        if said_down or on_status:
            log.info("reading %s from Kafka at %s", topic, bootstrap)
            if on_status:
                on_status(f"reading {topic} from {bootstrap}")
        said_down = False
        try:
            if on_start is not None:
                await on_start(consumer, committed)
            # Never committed behind where it was: a reader may go back to read again (the
            # engine's warm-up), which must not move the position back for the next start.
            floor = {tp: c.offset for tp, c in committed.items()}
            if resume:
                await _commit(consumer, resume, consumer.assignment(), floor)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=5_000)
                for records in batches.values():
                    on_records(records)
                if resume and batches:
                    await _commit(consumer, resume, batches, floor)
        except Exception as exc:  # aiokafka gave up on something: start a fresh consumer
            log.warning("lost Kafka at %s (%s); reconnecting", bootstrap, exc)
            await wait_or_stop(stop, retry_s)
        finally:
            await stop_client(consumer)


async def stop_client(client: Any, timeout_s: float = 5.0) -> None:
    """Stop an aiokafka client within `timeout_s`. However its stop ends is logged, never
    raised: a connection cut under it can end it cancelled (its fetch task is cancelled in
    the middle of a retry), which must not end the reader that is about to reconnect, nor the
    stop of the app. A cancel of the caller itself still goes through."""
    stopping = asyncio.ensure_future(client.stop())
    try:
        done, _ = await asyncio.wait({stopping}, timeout=timeout_s)
    except asyncio.CancelledError:
        stopping.cancel()
        raise
    if not done:
        stopping.cancel()
        log.debug("a Kafka client did not stop within %g s", timeout_s)
    elif stopping.cancelled():
        log.debug("a Kafka client's stop was cancelled inside it")
    elif stopping.exception() is not None:
        log.debug("a Kafka client's stop: %s", stopping.exception())


async def _assign(consumer: Any, topic: str) -> dict[Any, Committed]:
    """Take every partition of `topic` and place each at its committed position (at its end
    when it has none); the committed positions found."""
    from aiokafka.errors import UnknownTopicOrPartitionError
    from aiokafka.structs import TopicPartition

    # Asking for the topic's metadata also creates it where the broker creates topics.
    client = consumer._client
    client.add_topic(topic)
    await client.force_metadata_update()
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise UnknownTopicOrPartitionError(topic)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    # The coordinator's fetch gives the commit's metadata too (when it was made);
    # consumer.committed() only the offset.
    try:
        found = await consumer._coordinator.fetch_committed_offsets(tps)
    except Exception as exc:  # e.g. a Kafka whose ACLs refuse us a group: read as before
        _said_once(
            f"cannot keep a read position on Kafka (group {consumer._group_id}): "
            f"{describe_kafka_error(exc)}; reading {topic} as on a first start"
        )
        found = {}
    committed: dict[Any, Committed] = {}
    for tp in tps:
        meta = found.get(tp)
        if meta is None or meta.offset < 0:
            continue
        committed[tp] = Committed(meta.offset, _commit_time(meta.metadata))
    fresh = [tp for tp in tps if tp not in committed]
    ends = await consumer.end_offsets(fresh) if fresh else {}
    for tp in tps:
        consumer.seek(tp, committed[tp].offset if tp in committed else ends[tp])
    return committed


def _commit_time(metadata: Any) -> float | None:
    """The epoch seconds a commit's metadata carries ("at=<seconds>"), bounded and checked."""
    if isinstance(metadata, str) and metadata.startswith("at=") and len(metadata) < 32:
        try:
            at = float(metadata[3:])
        except ValueError:
            return None
        return at if 0 < at < 1e11 else None
    return None


async def _commit(consumer: Any, resume: Resume, tps: Any, floor: dict[Any, int]) -> None:
    """Commit the positions of `tps` (never below `floor`) once what was read before them is
    durable. A commit that fails is only logged: the next one covers it, and what is read
    again is dropped by id."""
    from aiokafka.structs import OffsetAndMetadata

    resume.durable()
    meta = f"at={time.time():.0f}"
    try:
        offsets = {}
        for tp in tps:
            position = max(await consumer.position(tp), floor.get(tp, 0))
            offsets[tp] = OffsetAndMetadata(position, meta)
        await consumer.commit(offsets)
    except Exception as exc:  # said once; the next commit covers it, or nothing is kept
        _said_once(f"cannot commit the read position on Kafka: {describe_kafka_error(exc)}")


_said: set[str] = set()


def _said_once(text: str) -> None:
    """A warning once per process and kind (not once per batch)."""
    kind = text.split(":", 1)[0]
    if kind not in _said:
        _said.add(kind)
        log.warning("%s", text)
    else:
        log.debug("%s", text)


def describe_start_error(exc: BaseException, topic: str) -> str:
    """Why a consumer of `topic` did not start, once a probe found the broker itself fine."""
    from aiokafka.errors import UnknownTopicOrPartitionError

    if isinstance(exc, UnknownTopicOrPartitionError):
        return (
            f"it has no topic {topic} and did not create one (fix: create the topic, or let "
            "the broker create topics: auto.create.topics.enable)"
        )
    return describe_kafka_error(exc)


def describe_kafka_error(exc: BaseException) -> str:
    """Why Kafka cannot be used, as a short phrase for one log line or the menu (no traceback)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def quiet_aiokafka() -> None:
    """aiokafka logs an ERROR per failed connect, every retry: we say it once ourselves."""
    aiokafka_log = logging.getLogger("aiokafka")
    if aiokafka_log.level == logging.NOTSET:
        aiokafka_log.setLevel(logging.CRITICAL)


async def _within(task: asyncio.Future[Any], stop: asyncio.Event, seconds: float | None) -> bool:
    """True once `task` is done; False when `stop` is set or `seconds` pass first."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return task.done()


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
