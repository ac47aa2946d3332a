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
from logtray.tray.alerts.kafka_source import Records, consume_forever
from logtray.tray.base.config import AlertsTopicConfig


def consumer_options(config: AlertsTopicConfig) -> dict[str, Any]:
    """aiokafka security options from the config (only those that apply)."""
    options: dict[str, Any] = {"security_protocol": config.security_protocol}
    if config.security_protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=config.sasl_mechanism,
            sasl_plain_username=config.sasl_username,
            sasl_plain_password=config.sasl_password,
        )
    if config.security_protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context(cafile=config.ssl_cafile or None)
    return options


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
