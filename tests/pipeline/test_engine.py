"""The engine end to end against a real broker: demo generator -> tansu -> rule -> alerts.

Also malformed messages on the topic, a broker stopped and restarted mid-stream, and the
alerts topic read by two consumers that both get every alert.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable

from logtray.stack.demo.app import SOURCES, DemoSettings, Generator
from logtray.stack.kafka_handler import KafkaJSONHandler
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.alerts_topic import run_alerts_topic
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.kafka_source import consume_forever
from logtray.tray.base.config import AlertsTopicConfig, EngineConfig
from tests.pipeline.kafka_util import produce


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def start_demo(bootstrap: str, topic: str) -> tuple[Generator, KafkaJSONHandler, threading.Thread]:
    settings = DemoSettings(
        bootstrap=bootstrap, topic=topic, info_rate=20, error_rate=1, spike_rate=200, spike_s=0.5
    )
    handler = KafkaJSONHandler(bootstrap, topic, service="demo", retry_s=0.2)
    logger = logging.getLogger(f"demo.{topic}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    generator = Generator(settings, logger)
    thread = threading.Thread(target=generator.run, daemon=True)
    thread.start()
    return generator, handler, thread


def test_demo_to_engine_alerts_on_spikes_and_survives_a_broker_restart(broker):
    topic = "program-logs"
    config = EngineConfig(bootstrap=broker.bootstrap, topic=topic, throttle_s=60.0)
    alerts: list[Alert] = []
    engine = RuleEngine(config, alerts.append)
    generator, handler, thread = start_demo(broker.bootstrap, topic)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            consume_forever(topic, broker.bootstrap, engine.on_records, stop, retry_s=0.2)
        )
        try:
            await until(lambda: engine.rule.events > 40, 15, "the baseline to flow")
            await asyncio.sleep(1.0)
            assert alerts == []  # the baseline stays below the threshold
            await produce(
                broker.bootstrap,
                topic,
                [
                    b"not json",
                    b"[1]",
                    b'"text"',
                    b'{"level": "loud", "pathname": "/x.py"}',  # no level it can read
                    b'{"message": "no fields"}',
                ],
            )
            await until(lambda: engine.malformed >= 5, 10, "the malformed messages")
            generator.spike(SOURCES[1])
            await until(lambda: alerts, 10, "an alert for the spike")
            assert [a.pathname for a in alerts] == [SOURCES[1]]
            assert alerts[0].count == config.threshold + 1

            broker.stop()  # mid-stream: the demo keeps logging, the engine keeps waiting
            await asyncio.sleep(1.0)
            broker.start()
            events = engine.rule.events
            await until(lambda: engine.rule.events > events + 20, 30, "logs after the restart")
            generator.spike(SOURCES[0])
            await until(lambda: len(alerts) >= 2, 15, "an alert after the restart")
            assert alerts[1].pathname == SOURCES[0]
            assert not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        generator.stopped.set()
        thread.join(5)
        handler.close()


def test_alerts_topic_reaches_every_desktop(broker):
    config = AlertsTopicConfig(enabled=True, bootstrap=broker.bootstrap)
    got: dict[str, list[Alert]] = {"laptop-a": [], "laptop-b": []}

    def accept_for(name: str) -> Callable[[Alert, str, float], None]:
        return lambda alert, peer, received: got[name].append(alert)

    alert = {"pathname": "/srv/api.py", "count": 40, "window_s": 10, "threshold": 25}

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(run_alerts_topic(config, accept_for(name), stop)) for name in got
        ]
        try:
            # The consumers start at the end of the topic: publish until both have seen one.
            deadline = time.monotonic() + 20
            while not all(got.values()) and time.monotonic() < deadline:
                await produce(broker.bootstrap, config.topic, [json.dumps(alert).encode()])
                await asyncio.sleep(0.3)
            sent_before = min(len(v) for v in got.values())
            await produce(broker.bootstrap, config.topic, [b"FOUND PROBLEM IN /srv/b.py:7"])
            await until(
                lambda: all(
                    len(v) > sent_before and v[-1].pathname == "/srv/b.py" for v in got.values()
                ),
                10,
                "the second alert on both",
            )
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(scenario())
    for alerts in got.values():
        assert alerts[0].pathname == "/srv/api.py" and alerts[0].count == 40
        assert alerts[-1].lineno == 7


def test_engine_with_no_broker_says_so_once_and_keeps_trying(caplog, monkeypatch):
    from aiokafka import AIOKafkaConsumer

    from tests.conftest import free_port

    statuses: list[str] = []
    starts = 0
    real_start = AIOKafkaConsumer.start

    async def counted_start(self):  # the real start(), counted: each is one try
        nonlocal starts
        starts += 1
        return await real_start(self)

    monkeypatch.setattr(AIOKafkaConsumer, "start", counted_start)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            consume_forever(
                "program-logs",
                f"127.0.0.1:{free_port()}",
                lambda records: None,
                stop,
                retry_s=0.1,
                on_status=statuses.append,
            )
        )
        deadline = asyncio.get_running_loop().time() + 60
        while starts < 4:  # retried three times after the first try (0.1, 0.2, 0.4 s apart)
            assert not task.done(), "consume_forever gave up"
            assert asyncio.get_running_loop().time() < deadline, f"only {starts} tries in 60 s"
            await asyncio.sleep(0.05)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.WARNING, logger="logtray.tray.alerts.kafka_source"):
        asyncio.run(scenario())
    assert len(statuses) == 1 and "cannot reach Kafka" in statuses[0]
    assert len([r for r in caplog.records if "cannot reach" in r.getMessage()]) == 1
    assert not any(r.exc_info for r in caplog.records)


def test_engine_names_an_advertised_address_it_cannot_reach(tansu_binary, tmp_path, monkeypatch):
    """A broker that answers at bootstrap but sends clients on to an address this computer
    cannot reach (a container's own port, a listener meant for other machines): `logtray
    engine` says which address, that it cannot be reached, and the fix; not aiokafka's
    UnknownTopicOrPartitionError, and without waiting for aiokafka's 40 s timeout."""
    from logtray.tray.base.config import load_config
    from logtray.tray.commands.doctor import check_team_kafka
    from tests.conftest import free_port
    from tests.pipeline.conftest import Broker
    from tests.support.processes import Running

    unreachable = free_port()  # nothing listens there
    broker = Broker(tansu_binary, tmp_path / "tansu.log", advertised_port=unreachable)
    monkeypatch.setenv("LOGTRAY_STACK_HEARTBEAT_S", "0")
    broker.start()
    try:
        engine = Running("engine", "--bootstrap", broker.bootstrap, "--notifier", "console")
    except BaseException:
        broker.stop()
        raise
    try:
        line = engine.wait_stderr("cannot reach Kafka", timeout=30)
        # `logtray doctor` says the same of a team's Kafka.
        [check] = check_team_kafka(
            load_config({"alerts_topic": {"enabled": True, "bootstrap": broker.bootstrap}})
        )
    finally:
        engine.stop()
        broker.stop()
    assert not check.ok and "advertised.listeners" in check.fix
    assert check.detail == (
        f"Kafka at {broker.bootstrap}: it answers, but sends clients on to 127.0.0.1:"
        f"{unreachable} (the address it advertises), which this computer cannot reach: "
        "nothing listens there (connection refused)"
    )
    assert f"at {broker.bootstrap} (program-logs): it answers, but sends clients on to " in line
    assert f"127.0.0.1:{unreachable} (the address it advertises), which this computer cannot " in (
        line
    )
    assert "reach: nothing listens there (connection refused)" in line
    assert "advertised.listeners" in line and "KAFKA_ADVERTISED_LISTENERS" in line
    said = "".join(engine.stderr_lines)
    assert said.count("cannot reach Kafka") == 1, said
    assert "UnknownTopicOrPartition" not in said and "Traceback" not in said, said
