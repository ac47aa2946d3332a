"""`logtray listen`: the headless listener with notifications (replaces the netcat loop)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from logtray.tray.base.config import Config, ensure_token, load_config
from logtray.tray.base.kafka_address import KafkaAddress
from logtray.tray.commands.common import add_listener_options, listener_flags, serve_until_signalled
from logtray.tray.commands.stack_cmd import stack_kafka
from logtray.tray.delivery.service import AlertService


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("listen", help="receive alerts on a TCP port and show notifications")
    add_listener_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ensure_token(load_config(listener_flags(args)))
    service = AlertService(config)
    # A kind alert's Resolve writes to the kinds topic on the stack's Kafka, read when it is
    # chosen (in a worker thread), as `logtray kinds resolve` reads it.
    service.actions.set_stack_kafka(lambda: stack_kafka(config).bootstrap)
    asyncio.run(_serve(service, _stack_alerts(config)))
    return 0


def _stack_alerts(config: Config) -> tuple[KafkaAddress, str] | None:
    """Where the stack's alerts topic is read, when it applies: a profile with Riemann that
    keeps its alerts there, and its Kafka running (or `[engine] bootstrap` written)."""
    from logtray.stack.specs import alerts_topic

    topic = alerts_topic(config.stack)
    if not topic:
        return None
    kafka = stack_kafka(config)
    return None if kafka.source == "default" else (kafka, topic)


async def _serve(service: AlertService, stack_alerts: tuple[KafkaAddress, str] | None) -> None:
    async def start() -> str:
        await service.start()
        assert service.listener is not None
        where = ", ".join(f"{host}:{port}" for host, port in service.listener.addresses)
        kept = ""
        if stack_alerts is not None:
            # What Riemann kept while nothing listened: told once, in one summary.
            kafka, topic = stack_alerts
            service.start_stack_alerts(kafka.bootstrap, topic)
            kept = f"; catching up from the alerts topic {topic} at {kafka.describe()}"
        return f"listening on {where}{kept}; notifications: {service.notifier_name}"

    await serve_until_signalled(service, start)
