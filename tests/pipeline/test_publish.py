"""Publishing alerts to the team's alerts topic, through a real broker: the engine publishes
every alert (the listener's JSON object, no token, a stable id), an outage never blocks the rule
and is caught up after, and the same alert over TCP and over the topic is shown once."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import time

import pytest

from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.dedupe import SeenIds, alert_id
from logtray.tray.alerts.engine import SpikeRule
from logtray.tray.alerts.kafka_source import security_options
from logtray.tray.alerts.publisher import AlertPublisher, encode_alert
from logtray.tray.base.config import EngineConfig, load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.conftest import free_port
from tests.pipeline.kafka_util import produce, read_topic
from tests.pipeline.test_engine import until


def spike_alert(path: str = "/srv/payments/charge.py", at: float = 1764000000.25) -> Alert:
    rule = SpikeRule(EngineConfig(threshold=2))
    alert = None
    for _ in range(3):
        alert = rule.observe({"level": "error", "pathname": path, "message": "boom"}, at)
    assert alert is not None
    return alert


def test_an_alert_is_published_as_the_listener_reads_it() -> None:
    alert = spike_alert()
    assert alert.id == alert_id("/srv/payments/charge.py", 1764000000.25)
    wire = encode_alert(alert)
    back = parse_message(wire.decode())
    assert back is not None and back.to_record() == alert.to_record()
    # Extras travel at the top level (as a sender wrote them); the token never.
    other = parse_message('{"pathname": "/a.py", "team": "pay", "token": "secret", "id": "x1"}')
    assert other is not None
    sent = json.loads(encode_alert(other))
    assert sent == {"pathname": "/a.py", "team": "pay", "id": "x1"}


def test_the_id_is_riemann_s_formula_and_bounded() -> None:
    # sha-256 of "<pathname>\n<milliseconds>", 20 hex characters (riemann.config's alert-id).
    import hashlib

    expected = hashlib.sha256(b"/app/a.py\n1764000002500").hexdigest()[:20]
    assert alert_id("/app/a.py", 1764000002.5) == expected
    assert len(alert_id("/app/a.py", 0.0)) == 20
    assert alert_id("/a.py", 1.0) != alert_id("/a.py", 1.001) != alert_id("/b.py", 1.0)
    # A sender's id is a bounded string, or nothing.
    assert parse_message('{"pathname": "/a.py", "id": 5}').id is None  # type: ignore[union-attr]
    assert parse_message('{"id": "' + "x" * 129 + '"}').id is None  # type: ignore[union-attr]
    seen = SeenIds(capacity=3)
    assert [seen.first_time(i) for i in "abca"] == [True, True, True, False]
    for i in "defg":
        seen.first_time(i)
    assert len(seen) == 3 and seen.first_time("a")  # forgotten: bounded memory


def test_the_engine_publishes_every_alert_to_the_topic(broker) -> None:
    config = load_config(
        {"engine": {"bootstrap": broker.bootstrap, "threshold": 2, "publish": True}},
    )
    service = AlertService(config, notifier=ConsoleNotifier(io.StringIO()))
    error = json.dumps({"level": "error", "pathname": "/srv/orders/ship.py", "message": "x"})

    async def scenario() -> None:
        await service.start(listen=False)
        service.start_engine()
        assert service.engine is not None and service.publisher is not None
        publisher = service.publisher
        try:
            deadline = time.monotonic() + 20
            while publisher.published < 1 and time.monotonic() < deadline:
                await produce(broker.bootstrap, "program-logs", [error.encode()] * 3)
                await asyncio.sleep(0.3)
        finally:
            await service.stop()

    asyncio.run(scenario())
    assert service.publisher is not None and service.publisher.published >= 1
    values = read_topic(broker.bootstrap, "logtray-alerts", at_least=1)
    alert = json.loads(values[0])
    assert alert["pathname"] == "/srv/orders/ship.py" and alert["count"] == 3
    assert alert["threshold"] == 2 and "token" not in alert
    assert alert["id"] == alert_id("/srv/orders/ship.py", alert["time"])


def test_an_outage_never_blocks_the_rule_and_the_queue_is_sent_after(broker, caplog) -> None:
    broker.stop()
    publisher = AlertPublisher(broker.bootstrap, "logtray-alerts", max_queued=5, max_retry_s=0.5)
    alerts = [spike_alert(f"/srv/p{i}.py") for i in range(8)]

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        try:
            await until(lambda: publisher.last_error is not None, 20, "the outage said once")
            # In the outage the rule's calls return at once: publish() is no coroutine (it
            # cannot wait for the loop, where the sender task tries Kafka), and every alert is
            # queued or counted as dropped by the time the calls return. The clock only gives
            # a far bound, not a speed check: eight appends take microseconds, a publish() that
            # waited for Kafka itself would wait at least its 10 s request timeout for each.
            assert not inspect.iscoroutinefunction(publisher.publish)
            began = time.monotonic()
            for alert in alerts:
                publisher.publish(alert)
            assert time.monotonic() - began < 5.0, "publish() waited for Kafka"
            assert (publisher.queued, publisher.dropped, publisher.published) == (5, 3, 0)
            broker.start()
            await until(lambda: publisher.published == 5, 30, "the queue sent after the outage")
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    with caplog.at_level(logging.WARNING, logger="logtray.tray.alerts.publisher"):
        asyncio.run(scenario())
    assert publisher.dropped == 3 and publisher.queued == 0
    said = [r.getMessage() for r in caplog.records]
    assert sum("not published" in s for s in said) == 1, said  # counted, said once
    assert sum("cannot publish alerts" in s for s in said) == 1, said
    got = [json.loads(v)["pathname"] for v in read_topic(broker.bootstrap, "logtray-alerts", 5)]
    assert sorted(got) == [f"/srv/p{i}.py" for i in range(5)]  # the first five, kept


@pytest.mark.parametrize("order", ["tcp first", "topic first"])
def test_the_same_alert_over_tcp_and_the_topic_is_shown_once(team_kafka, order) -> None:
    bootstrap, keys = team_kafka
    options = security_options(load_config({"alerts_topic": keys}).alerts_topic)
    port = free_port()
    config = load_config(
        {
            "listener": {"port": port, "hosts": ["127.0.0.1"], "token": "tok"},
            "alerts_topic": {"enabled": True, "bootstrap": bootstrap, **keys},
        }
    )
    out = io.StringIO()
    service = AlertService(config, notifier=ConsoleNotifier(out))
    alert = encode_alert(spike_alert("/srv/payments/refund.py"))

    async def send_tcp(line: bytes) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(line + b"\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def scenario() -> None:
        await service.start(listen=True)
        assert service.router is not None
        router = service.router
        try:
            # The subscriber starts at the end of the topic: a probe tells when it reads.
            deadline = time.monotonic() + 20
            while router.accepted < 1 and time.monotonic() < deadline:
                await produce(
                    bootstrap, "logtray-alerts", [b'{"pathname": "/probe.py"}'], **options
                )
                await asyncio.sleep(0.3)
            assert router.accepted >= 1, "the alerts topic was never read"
            before = router.accepted
            if order == "tcp first":
                await send_tcp(alert)
                await produce(bootstrap, "logtray-alerts", [alert], **options)
            else:
                await produce(bootstrap, "logtray-alerts", [alert], **options)
                await send_tcp(alert)
            await until(lambda: router.duplicates >= 1, 20, "the second copy")
            assert router.accepted == before + 1
        finally:
            await service.stop()

    asyncio.run(scenario())
    shown = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [n["key"] for n in shown].count("/srv/payments/refund.py") == 1
