"""Keep one Kafka producer sending for as long as asked, surviving a broker that is down or
goes away: the task under the alerts publisher (publisher.py) and the kinds keeper
(kinds_topic.py).

Each of them keeps its own queue (what is pending, what a failed send leaves) and its own
words; this keeps the producer: start it, hand it what is pending whenever woken, start a
fresh one after a loss, and pause while none can start (`retry_s` doubling to `max_retry_s`),
said once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from logtray.tray.alerts.kafka_source import quiet_aiokafka, wait_or_stop

Message = tuple[bytes | None, bytes | None]  # key, value
SEND_TIMEOUT_S = 30.0


async def produce_forever(
    bootstrap: str,
    options: dict[str, Any],
    send: Callable[[Any], Awaitable[bool]],
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    retry_s: float,
    max_retry_s: float,
    cannot_start: Callable[[Exception], Awaitable[None]],
    lost: Callable[[Exception], None],
    started: Callable[[bool], None] | None = None,
    last_try: bool = False,
    pause_after_loss: bool = True,
) -> None:
    """Hand a started producer to `send` whenever `wake` is set, until `stop` is set and
    `send` found nothing pending. Never raises for Kafka.

    `send(producer)` sends one batch of what is pending and says whether there was any; what
    it raises counts as a lost connection (it keeps what it did not send). `cannot_start(exc)`
    is awaited once per outage; `started(said)` is called when a producer has started
    (`said`: an outage was said before it); `lost(exc)` when a started one failed.
    With `last_try`, a producer is started once more after `stop` to send what is left
    (without, none is started once `stop` is set: a stop is never held up by Kafka); with
    `pause_after_loss`, a lost producer is replaced after `retry_s` (without, at once).
    """
    from aiokafka import AIOKafkaProducer

    quiet_aiokafka()
    pause = retry_s
    said = False
    while last_try or not stop.is_set():
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **options
        )
        try:
            await producer.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await producer.stop()  # a half-started producer still holds its client
            if not said:
                said = True
                await cannot_start(exc)
            if stop.is_set():
                return
            await wait_or_stop(stop, pause)
            pause = min(pause * 2, max_retry_s)
            continue
        pause = retry_s
        if started is not None:
            started(said)
        said = False
        try:
            await _send_until(producer, send, wake, stop)
            return
        except Exception as exc:  # the broker went away mid-send: a fresh producer
            lost(exc)
            if stop.is_set():
                return
            if pause_after_loss:
                await wait_or_stop(stop, retry_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5.0)


async def send_all(producer: Any, topic: str, messages: Sequence[Message]) -> None:
    """Send `messages` to `topic` and wait until the broker took them all (bounded)."""
    futures = [await producer.send(topic, value, key=key) for key, value in messages]
    await asyncio.wait_for(asyncio.gather(*futures), SEND_TIMEOUT_S)


async def _send_until(
    producer: Any,
    send: Callable[[Any], Awaitable[bool]],
    wake: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    while True:
        wake.clear()
        if await send(producer):
            continue
        if stop.is_set():
            return
        await _first(wake, stop)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
