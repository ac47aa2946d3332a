"""A team's alerts topic on a real broker: one engine publishes, two desktops subscribe with
different filters (one owns payments/*, one orders/* by CODEOWNERS) and each shows only its
alerts; a desktop that starts late is told what it missed in one summary, bounded, and then
reads on from exactly where that catch-up ended (nothing missed, nothing twice)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.alerts_topic import catch_up, run_alerts_topic
from logtray.tray.alerts.kafka_source import security_options
from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.pipeline.kafka_util import produce


def desktop(bootstrap: str, **topic: Any) -> tuple[AlertService, io.StringIO]:
    out = io.StringIO()
    config = load_config(
        {"alerts_topic": {"enabled": True, "bootstrap": bootstrap, "path_prefix": "/srv/", **topic}}
    )
    return AlertService(config, notifier=ConsoleNotifier(out)), out


def shown(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_two_desktops_each_see_only_the_alerts_they_want(team_kafka, tmp_path) -> None:
    bootstrap, keys = team_kafka
    owners = tmp_path / "CODEOWNERS"
    owners.write_text("* @everyone\n/orders/ @bob\n")
    engine_out = io.StringIO()
    engine = AlertService(
        load_config(
            {
                "engine": {
                    "bootstrap": bootstrap,
                    "threshold": 2,
                    "throttle_s": 0,
                    "publish": True,
                    **keys,
                }
            }
        ),
        notifier=ConsoleNotifier(engine_out),
    )
    alice, alice_out = desktop(bootstrap, paths=["payments/*"], **keys)
    bob, bob_out = desktop(bootstrap, owners_file=str(owners), owner="bob", **keys)
    options = security_options(load_config({"engine": keys}).engine)
    errors = [
        json.dumps({"level": "error", "pathname": f"/srv/{p}", "message": "boom"}).encode()
        for p in ("payments/charge.py", "orders/ship.py")
    ]

    def keys(out: io.StringIO) -> set[str]:
        return {n["key"] for n in shown(out)}

    async def scenario() -> None:
        await engine.start(listen=False)
        engine.start_engine()
        await alice.start(listen=False)
        await bob.start(listen=False)
        try:
            # The desktops read from the end of the topic: the engine keeps alerting (no
            # throttle) until each has shown one of its own.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (keys(alice_out) and keys(bob_out)):
                await produce(bootstrap, "program-logs", errors * 3, **options)
                await asyncio.sleep(0.3)
            assert alice.subscription is not None and bob.subscription is not None
            # ... and each has filtered out one of the other's (counted, not stored).
            while time.monotonic() < deadline and not (
                alice.subscription.filtered and bob.subscription.filtered
            ):
                await produce(bootstrap, "program-logs", errors * 3, **options)
                await asyncio.sleep(0.3)
        finally:
            await asyncio.gather(alice.stop(), bob.stop(), engine.stop())

    asyncio.run(scenario())
    assert keys(alice_out) == {"/srv/payments/charge.py"}
    assert keys(bob_out) == {"/srv/orders/ship.py"}
    assert alice.subscription is not None and alice.subscription.filtered >= 1
    assert bob.subscription is not None and bob.subscription.filtered >= 1
    assert engine.publisher is not None and engine.publisher.published >= 2


def test_a_late_desktop_gets_one_summary_of_what_it_missed(broker) -> None:
    now_ms = int(time.time() * 1000)

    async def publish_history() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            old = {"pathname": "/srv/payments/old.py", "count": 40}
            await producer.send_and_wait(
                "logtray-alerts", json.dumps(old).encode(), timestamp_ms=now_ms - 7_200_000
            )
            for name in ("charge", "charge", "refund", "orders/ship"):
                path = name if "/" in name else f"payments/{name}"
                alert = {"pathname": f"/srv/{path}.py", "count": 30}
                await producer.send_and_wait(
                    "logtray-alerts", json.dumps(alert).encode(), timestamp_ms=now_ms - 60_000
                )
        finally:
            await producer.stop()

    asyncio.run(publish_history())
    late, out = desktop(broker.bootstrap, paths=["payments/*"], catch_up_s=3600)

    async def scenario() -> None:
        await late.start(listen=False)
        try:
            deadline = time.monotonic() + 20
            while not out.getvalue() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # The live consumer starts at the end of the topic: send until it has read one.
            new = b'{"pathname": "/srv/payments/new.py"}'
            while len(shown(out)) < 2 and time.monotonic() < deadline:
                await produce(broker.bootstrap, "logtray-alerts", [new])
                await asyncio.sleep(0.3)
        finally:
            await late.stop()

    asyncio.run(scenario())
    notices = shown(out)
    # One summary for the last hour's three payments alerts (not the 2 h old one, not orders),
    # then live alerts as usual.
    assert len(notices) >= 2, notices
    assert notices[0]["title"] == "While you were away: 3 alerts — charge.py …"
    assert notices[0]["body"] == "charge.py ×2, refund.py (all are in the history)"
    assert {n["key"] for n in notices[1:]} == {"/srv/payments/new.py"}
    assert late.subscription is not None and late.subscription.filtered == 1


def test_nothing_falls_between_the_catch_up_and_the_live_reading(broker) -> None:
    """Alerts published before the start, while the catch-up reads, at its very end (the moment
    a second consumer would have started) and all along: each arrives once, in the summary or
    live, on every partition."""
    topic = "logtray-alerts"
    config = load_config(
        {"alerts_topic": {"enabled": True, "bootstrap": broker.bootstrap, "catch_up_s": 3600}}
    )
    got: list[Alert] = []
    live_from = asyncio.Event()  # the catch-up is over: the live reading begins

    def names() -> list[str]:
        return [a.pathname.removeprefix("/srv/") for a in got[1:] if a.pathname]

    async def until(predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: got {names()}"
            await asyncio.sleep(0.05)

    async def scenario() -> tuple[list[str], list[str]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        streamed: list[str] = []

        async def send(name: str, partition: int) -> None:
            value = json.dumps({"pathname": f"/srv/{name}"}).encode()
            await producer.send_and_wait(topic, value, partition=partition)

        async def stream() -> None:  # one alert after another, across the whole start
            after = 0  # ... and a few more once the live reading has begun
            while after < 2 * len(partitions):
                if len(streamed) >= 200:  # well within the catch-up's bound (1000)
                    await live_from.wait()
                name = f"stream-{len(streamed)}"
                await send(name, len(streamed) % len(partitions))
                streamed.append(name)
                after += live_from.is_set()

        async def at_phase(phase: str) -> None:
            # Published after the ends were taken ("ends") or once the catch-up has read up to
            # them ("caught up"): both after the catch-up, so live.
            for p in partitions:
                await send(f"{phase}-{p}", p)
            if phase == "caught up":
                live_from.set()

        stop = asyncio.Event()
        try:
            partitions = sorted(await producer.partitions_for(topic))
            assert len(partitions) > 1, "the test wants several partitions"
            for i in range(3 * len(partitions)):
                await send(f"before-{i}", i % len(partitions))
            streaming = asyncio.create_task(stream())
            await until(lambda: len(streamed) > 0, "the stream's first alert")
            reading = asyncio.create_task(
                run_alerts_topic(
                    config.alerts_topic,
                    lambda alert, peer, received: got.append(alert),
                    stop,
                    at_phase=at_phase,
                )
            )
            await streaming
            # One last alert on each partition: once each is read, a repeat of anything
            # before it on its partition would have been read too.
            for p in partitions:
                await send(f"last-{p}", p)
            await until(lambda: all(f"last-{p}" in names() for p in partitions), "the last alerts")
            stop.set()
            await asyncio.wait_for(reading, 10)
        finally:
            stop.set()
            await producer.stop()
        return streamed, partitions

    streamed, partitions = asyncio.run(scenario())
    summary, live = got[0], names()
    assert summary.title.startswith("While you were away:"), summary
    assert len(live) == len(set(live)), f"shown twice: {live}"
    assert not [name for name in live if name.startswith("before-")], live
    for phase in ("ends", "caught up", "last"):
        assert {f"{phase}-{p}" for p in partitions} <= set(live), live
    # Every streamed alert is live or in the summary, never both, never neither: the summary
    # counts the ones published before the start and the streamed ones not read live.
    summarised = [name for name in streamed if name not in live]
    assert summarised == streamed[: len(summarised)], "the summary is of before the start"
    assert len(summarised) < len(streamed), "the stream goes on past the catch-up"
    assert summary.extra["caught_up"] == 3 * len(partitions) + len(summarised), (summary, live)


def test_the_catch_up_keeps_the_newest_and_leaves_the_consumer_at_the_ends(broker) -> None:
    topic = "bounded-catch-up"
    base_ms = int(time.time() * 1000) - 60_000

    async def scenario() -> tuple[list[tuple[int, bytes]], dict[Any, int], dict[Any, int]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(
                    topic, str(i).encode(), partition=i % 2, timestamp_ms=base_ms + i
                )
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=None)
        await consumer.start()
        try:
            recent = await catch_up(consumer, since_ms=base_ms, limit=3)
            tps = sorted(consumer.assignment())
            positions = {tp: await consumer.position(tp) for tp in tps}
            return recent, positions, await consumer.end_offsets(tps)
        finally:
            await consumer.stop()

    recent, positions, ends = asyncio.run(scenario())
    # At most `limit` in all, the newest, oldest first; the next read is the first after them.
    assert recent == [(base_ms + i, str(i).encode()) for i in (7, 8, 9)]
    assert positions == ends
