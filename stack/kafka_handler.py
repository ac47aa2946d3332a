"""A logging handler that sends one JSON object per record to a Kafka topic, never blocking.

Usage in any Python service::

    import logging
    from logtray.stack.kafka_handler import KafkaJSONHandler

    logging.getLogger().addHandler(KafkaJSONHandler("127.0.0.1:9094", service="billing"))

`emit()` only turns the record into bytes and appends them to a bounded buffer; a background
thread with its own asyncio loop sends them in batches with aiokafka. With the broker down or
slow the buffer fills up to `max_buffer` records, then new records are dropped and counted
(`handler.dropped`), with one warning on stderr per outage: never an exception or a traceback per
message. The producer reconnects by itself and sending resumes when the broker is back.

This file is copied alone into the demo image: it needs only the standard library and aiokafka
(orjson is used when present).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import math
import os
import socket
import sys
import threading
import time
from typing import Any

try:
    import orjson

    def _dumps(obj: dict[str, Any]) -> bytes:
        return orjson.dumps(obj, default=str)

except ImportError:  # pragma: no cover - the demo image may lack orjson
    import json

    def _dumps(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, default=str, separators=(",", ":")).encode()


# Attributes every LogRecord has: anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


_second_cache: tuple[int, str] = (-1, "")


def iso_utc(created: float) -> str:
    """ISO 8601 UTC with milliseconds, as Elasticsearch and Kibana read `@timestamp`."""
    global _second_cache
    # Whole microseconds first, as datetime rounds them (half to even, on the fraction alone:
    # the whole timestamp times 10^6 loses the last bits), so the text is the same as its.
    fraction, whole = math.modf(created)
    micros = round(fraction * 1_000_000)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    cached_second, prefix = _second_cache
    if second != cached_second:
        # Formatting the date is most of the cost: do it once per second, not per record.
        stamp = datetime.datetime.fromtimestamp(second, tz=datetime.timezone.utc)
        prefix = stamp.strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    return f"{prefix}.{micros // 1000:03d}Z"


def record_to_dict(record: logging.LogRecord, service: str, host: str) -> dict[str, Any]:
    """The JSON object for one record (pure: reads the record, changes nothing)."""
    doc: dict[str, Any] = {
        "@timestamp": iso_utc(record.created),
        "level": record.levelname.lower(),
        "message": record.getMessage(),
        "pathname": record.pathname,
        "lineno": record.lineno,
        "logger": record.name,
        "service": service,
        "host": host,
    }
    if record.exc_info and record.exc_info[0] is not None:
        doc["exception"] = logging.Formatter().formatException(record.exc_info)
    for key, value in record.__dict__.items():
        if key in _RECORD_ATTRS or key in doc:
            continue  # the standard fields above win over an `extra` of the same name
        if key == "time" and not isinstance(value, (int, float)):
            # `time` is where readers look for a record's time: a caller's other value is kept
            # under another name, so `time` is never anything but a number.
            doc["time_text"] = str(value)
            continue
        doc[key] = value
    return doc


def encode_record(record: logging.LogRecord, service: str, host: str) -> bytes:
    return _dumps(record_to_dict(record, service, host))


class KafkaJSONHandler(logging.Handler):
    """Non-blocking JSON log handler for Kafka (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str = "127.0.0.1:9094",
        topic: str = "program-logs",
        *,
        service: str | None = None,
        max_buffer: int = 10_000,
        level: int = logging.NOTSET,
        flush_timeout_s: float = 5.0,
        retry_s: float = 1.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(level)
        self.bootstrap = bootstrap
        self.topic = topic
        self.service = service or os.environ.get("SERVICE_NAME") or os.path.basename(sys.argv[0])
        self.host = socket.gethostname()
        self.max_buffer = max_buffer
        self.flush_timeout_s = flush_timeout_s
        self.retry_s = retry_s
        self.producer_options = producer_options or {}
        # deque.append and popleft are atomic under the GIL: the caller never takes a lock.
        self._buffer: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.sent = 0
        self.failed = 0  # sent to the producer but not acknowledged (broker lost meanwhile)
        self.connected = False
        self._warned = False
        self._closing = threading.Event()
        self._close_deadline = 0.0  # set by close(): the end of the flush, connecting included
        self._thread = threading.Thread(target=self._run, name="kafka-log-handler", daemon=True)
        self._thread.start()

    # -- caller thread ---------------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("aiokafka"):
            return  # the client's own complaints about Kafka would only feed back into Kafka
        try:
            if len(self._buffer) >= self.max_buffer:
                self.dropped += 1
                if not self._warned:
                    self._warned = True
                    self._warn(
                        f"Kafka at {self.bootstrap} is not taking logs; buffered "
                        f"{self.max_buffer}, dropping the rest until it is back."
                    )
                return
            self._buffer.append(encode_record(record, self.service, self.host))
        except Exception:  # a bad record must never break the caller
            self.handleError(record)

    def close(self) -> None:
        """Send what is buffered (up to `flush_timeout_s`), then stop the sender thread."""
        if not self._closing.is_set():
            self._close_deadline = time.monotonic() + self.flush_timeout_s
            self._closing.set()
            self._thread.join(self.flush_timeout_s + 5.0)
        super().close()

    @staticmethod
    def _warn(text: str) -> None:
        # Straight to stderr: logging it could come back to this very handler.
        with contextlib.suppress(Exception):
            sys.stderr.write(f"logtray kafka handler: {text}\n")
            sys.stderr.flush()

    # -- sender thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._send_forever())

    async def _send_forever(self) -> None:
        from aiokafka import AIOKafkaProducer

        while not self._closing.is_set() or (
            # Closing while (re)connecting: keep trying until the flush deadline, so records
            # logged just before close() are not left behind on a slow first connection.
            self._buffer and time.monotonic() < self._close_deadline
        ):
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                linger_ms=5,
                # Big batches: per-batch work is Python on the GIL the callers need too.
                max_batch_size=512 * 1024,
                max_request_size=2 * 1024 * 1024,
                request_timeout_ms=10_000,
                **self.producer_options,
            )
            try:
                await producer.start()
                partitions = sorted(await producer.partitions_for(self.topic))
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if not self._warned:
                    self._warned = True
                    self._warn(f"cannot reach Kafka at {self.bootstrap} ({exc}); retrying.")
                if self._closing.is_set():
                    await asyncio.sleep(0.1)  # _sleep returns at once while closing
                await self._sleep(self.retry_s)
                continue
            self.connected = True
            if self._warned:
                self._warn(f"Kafka at {self.bootstrap} is back; sending logs again.")
                self._warned = False
            try:
                await self._pump(producer, partitions)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), self.flush_timeout_s)

    async def _pump(self, producer: Any, partitions: list[int]) -> None:
        pending: set[asyncio.Future[Any]] = set()
        turn = 0
        deadline: float | None = None
        while True:
            if self._closing.is_set() and deadline is None:
                deadline = self._close_deadline
            batch = producer.create_batch()
            count = 0
            while self._buffer:
                value = self._buffer[0]
                if batch.append(key=None, value=value, timestamp=None) is None:
                    break  # the batch is full: send it and start another
                self._buffer.popleft()
                count += 1
            if count:
                batch.close()
                partition = partitions[turn % len(partitions)]
                turn += 1
                future = await producer.send_batch(batch, self.topic, partition=partition)
                pending.add(future)
                future.add_done_callback(lambda f, n=count: self._settled(f, n, pending))
                # Few batches in flight: the rest waits in our bounded buffer, not in aiokafka.
                if len(pending) >= 8:
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                continue
            if deadline is not None:
                if pending:
                    await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
                return
            await asyncio.sleep(0.002)

    def _settled(self, future: asyncio.Future[Any], count: int, pending: set[Any]) -> None:
        pending.discard(future)
        if future.cancelled() or future.exception() is not None:
            self.failed += count
            if not self._warned:
                self._warned = True
                self._warn(f"Kafka at {self.bootstrap} stopped taking logs; will retry.")
        else:
            self.sent += count

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._closing.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.05)
