"""The alert service with its Kafka sources: config from the environment, alerts topic and
engine feeding the same router (history + notifier), against a real broker."""

from __future__ import annotations

import asyncio
import io
import json
import time

from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.pipeline.kafka_util import produce


def test_env_names_the_longer_section():
    config = load_config(
        environ={"LOGTRAY_ALERTS_TOPIC_ENABLED": "true", "LOGTRAY_ENGINE_THRESHOLD": "7"}
    )
    assert config.alerts_topic.enabled is True
    assert config.engine.threshold == 7


def test_service_feeds_topic_alerts_and_engine_alerts_to_one_router(broker):
    config = load_config(
        {
            "alerts_topic": {"enabled": True, "bootstrap": broker.bootstrap},
            "engine": {"bootstrap": broker.bootstrap, "threshold": 2},
        }
    )
    out = io.StringIO()
    service = AlertService(config, notifier=ConsoleNotifier(out))

    async def scenario() -> None:
        await service.start(listen=False)
        service.start_engine()
        assert service.router is not None and service.engine is not None
        router, engine = service.router, service.engine
        deadline = time.monotonic() + 20
        alert = json.dumps({"pathname": "/team/api.py", "count": 30}).encode()
        error = json.dumps({"level": "error", "pathname": "/local/a.py"}).encode()
        try:
            while time.monotonic() < deadline and (router.accepted < 2 or engine.rule.alerts < 1):
                await produce(broker.bootstrap, "logtray-alerts", [alert])
                await produce(broker.bootstrap, "program-logs", [error, error, error])
                await asyncio.sleep(0.3)
        finally:
            await service.stop()

    asyncio.run(scenario())
    assert service.engine is not None and service.engine.rule.alerts >= 1
    text = out.getvalue()
    assert "api.py" in text and "a.py" in text
