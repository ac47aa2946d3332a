"""Alerts from a shared Kafka topic (a team's Riemann or rule engine publishes there).

Every desktop reads the whole topic (no consumer group, see kafka_source), so no desktop steals
another's alerts. Each message is one alert as the listener takes it (JSON object or the
original text line), fed to the same router: same policy, history and notifiers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from logtray.tray.alerts.alert import Alert, parse_message
from logtray.tray.alerts.kafka_source import Records, consume_forever, security_options
from logtray.tray.base.config import AlertsTopicConfig


def consumer_options(config: AlertsTopicConfig) -> dict[str, Any]:
    """aiokafka security options from the config (only those that apply)."""
    return security_options(config)


async def run_alerts_topic(
    config: AlertsTopicConfig,
    accept: Callable[[Alert, str, float], None],
    stop: asyncio.Event,
    on_status: Callable[[str], None] | None = None,
    url_prefixes: Sequence[str] = (),
) -> None:
    """Feed every alert on the topic to `accept(alert, peer, received_at)` until `stop`.

    Junk records are skipped; an alert's url must be under `url_prefixes` (tray.links)."""
    peer = f"kafka:{config.topic}"

    def on_records(records: Records) -> None:
        received = time.perf_counter()
        for record in records:
            if record.value:
                text = record.value.decode("utf-8", "replace")
                alert = parse_message(text, url_prefixes)
                if alert is not None:
                    accept(alert, peer, received)

    await consume_forever(
        config.topic,
        config.bootstrap,
        on_records,
        stop,
        options=consumer_options(config),
        on_status=on_status,
    )
