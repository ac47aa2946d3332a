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
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from logtray.tray.alerts.alert import KNOWN_FIELDS, Alert
from logtray.tray.alerts.kafka_diagnosis import probe
from logtray.tray.alerts.kafka_source import describe_kafka_error
from logtray.tray.alerts.producer_task import produce_forever, send_all

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
        try:
            await produce_forever(
                self.bootstrap,
                {"linger_ms": 5, **self._options},
                self._send,
                self._wake,
                stop,
                retry_s=self.retry_s,
                max_retry_s=self.max_retry_s,
                cannot_start=self._cannot_start,
                started=self._started,
                lost=self._lost,
            )
        finally:
            self.connected = False

    async def _cannot_start(self, exc: Exception) -> None:
        problem = await probe(self.bootstrap, self._options)
        self._status(
            f"cannot publish alerts to Kafka at {self.bootstrap}: "
            f"{problem or describe_kafka_error(exc)}; retrying, up to every "
            f"{self.max_retry_s:g} s",
            logging.WARNING,
        )

    def _started(self, said: bool) -> None:
        self.connected = True
        if said or self._on_status:
            self._status(f"publishing alerts to {self.topic} at {self.bootstrap}", logging.INFO)

    def _lost(self, exc: Exception) -> None:
        self.connected = False
        self._status(
            f"lost Kafka at {self.bootstrap} ({describe_kafka_error(exc)}); "
            f"{len(self._queue)} alert(s) wait",
            logging.WARNING,
        )

    async def _send(self, producer: Any) -> bool:
        """Send what is queued; it leaves the queue only once Kafka took it."""
        if not self._queue:
            return False
        batch = list(self._queue)
        await send_all(producer, self.topic, [(None, value) for value in batch])
        for _ in batch:
            self._queue.popleft()
        self.published += len(batch)
        return True

    def _status(self, text: str, level: int) -> None:
        self.last_error = text if level >= logging.WARNING else None
        log.log(level, "%s", text)
        if self._on_status:
            self._on_status(text)
