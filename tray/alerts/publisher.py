"""Publish alerts to a team's alerts topic, so every developer's tray can subscribe to them.

The rule hands each alert to `publish`, which never waits: the alert is queued (bounded; a full
queue drops the alert, counts it and says so once) and a task sends the queue to Kafka. A
broker that is down or refuses us is retried with a growing pause (1 s doubling to 30 s),
said once, and never stalls the rule or the local notifications. What goes on the topic is the
JSON object the TCP listener takes, without the listener's token, with the alert's stable id
(a batch resent after a lost connection may land twice: subscribers drop the repeat by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from logtray.tray.alerts.alert import KNOWN_FIELDS, Alert
from logtray.tray.alerts.kafka_diagnosis import probe
from logtray.tray.alerts.kafka_source import describe_kafka_error, quiet_aiokafka

log = logging.getLogger(__name__)


def encode_alert(alert: Alert) -> bytes:
    """The alert as one JSON object, as the listener takes it (extras at the top, no token)."""
    record = alert.to_record()
    extra = record.pop("extra", None) or {}
    for key, value in extra.items():
        if key not in KNOWN_FIELDS and key != "evidence":
            record.setdefault(key, value)
    record.pop("token", None)
    return orjson.dumps(record)


class AlertPublisher:
    """A bounded queue of alerts and the task (`run`) that sends it to `topic`."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        options: dict[str, Any] | None = None,
        *,
        max_queued: int = 1000,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._options = options or {}
        self.max_queued = max_queued
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._on_status = on_status
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.published = 0
        self.dropped = 0
        self.connected = False
        self.last_error: str | None = None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def publish(self, alert: Alert) -> None:
        """Queue one alert for the topic (on the loop thread); never blocks, never raises."""
        if len(self._queue) >= self.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "the alerts topic's queue is full (%d alerts waiting for Kafka at %s): "
                    "%d alert(s) not published so far",
                    self.max_queued,
                    self.bootstrap,
                    self.dropped,
                )
            return
        self._queue.append(encode_alert(alert))
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send queued alerts until `stop`; then one bounded try to send what is left."""
        from aiokafka import AIOKafkaProducer

        quiet_aiokafka()
        pause = self.retry_s
        said = False
        while not stop.is_set():
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                request_timeout_ms=10_000,
                linger_ms=5,
                **self._options,
            )
            try:
                await producer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if not said:
                    said = True
                    problem = await probe(self.bootstrap, self._options)
                    self._status(
                        f"cannot publish alerts to Kafka at {self.bootstrap}: "
                        f"{problem or describe_kafka_error(exc)}; retrying, up to every "
                        f"{self.max_retry_s:g} s",
                        logging.WARNING,
                    )
                await _sleep(stop, pause)
                pause = min(pause * 2, self.max_retry_s)
                continue
            self.connected = True
            pause = self.retry_s
            if said or self._on_status:
                self._status(f"publishing alerts to {self.topic} at {self.bootstrap}", logging.INFO)
            said = False
            try:
                await self._send_until(producer, stop)
            except Exception as exc:  # the broker went away mid-send: a fresh producer
                self._status(
                    f"lost Kafka at {self.bootstrap} ({describe_kafka_error(exc)}); "
                    f"{len(self._queue)} alert(s) wait",
                    logging.WARNING,
                )
                await _sleep(stop, pause)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 5.0)

    async def _send_until(self, producer: Any, stop: asyncio.Event) -> None:
        while True:
            self._wake.clear()
            if self._queue:
                batch = list(self._queue)
                futures = [await producer.send(self.topic, value) for value in batch]
                await asyncio.wait_for(asyncio.gather(*futures), 30.0)
                for _ in batch:
                    self._queue.popleft()
                self.published += len(batch)
                continue
            if stop.is_set():
                return
            await _first(self._wake, stop)

    def _status(self, text: str, level: int) -> None:
        self.last_error = text if level >= logging.WARNING else None
        log.log(level, "%s", text)
        if self._on_status:
            self._on_status(text)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
