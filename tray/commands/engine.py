"""`logtray engine`: the embedded error-spike rule on program-logs, headless (lite profile)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from logtray.tray.base.config import load_config
from logtray.tray.base.kafka_address import KafkaAddress
from logtray.tray.commands.common import add_notifier_option, notifier_flags, serve_until_signalled
from logtray.tray.commands.stack_cmd import stack_kafka
from logtray.tray.delivery.service import AlertService


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "engine", help="run the error-spike rule on Kafka logs and show notifications"
    )
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka (default: [engine] bootstrap if set, else the running stack's Kafka, "
        "else 127.0.0.1:9094)",
    )
    parser.add_argument("--topic", help="log topic (default program-logs)")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also publish every alert to the team's alerts topic ([alerts_topic] topic)",
    )
    add_notifier_option(parser)
    parser.set_defaults(run=run)


def flags_from(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    flags: dict[str, dict[str, Any]] = {}
    if args.bootstrap is not None:  # "" too: refused as [engine] bootstrap, not ignored
        flags.setdefault("engine", {})["bootstrap"] = args.bootstrap
    if args.topic:
        flags.setdefault("engine", {})["topic"] = args.topic
    if args.publish:
        flags.setdefault("engine", {})["publish"] = True
    notifier_flags(args, flags)
    return flags


def run(args: argparse.Namespace) -> int:
    config = load_config(flags_from(args))
    # Without a written bootstrap, the local stack's Kafka where it is published (read once,
    # at start: a stack recreated on another port needs a restart of this command).
    kafka = stack_kafka(config)
    asyncio.run(_serve(AlertService(config), kafka))
    return 0


async def _serve(service: AlertService, kafka: KafkaAddress) -> None:
    async def start() -> str:
        await service.start(listen=False)
        service.start_engine(kafka.bootstrap)
        engine = service.config.engine
        # The engine proves its own path too: a heartbeat through Kafka and back.
        heartbeat = service.start_heartbeat(kafka.bootstrap, engine.topic, "the engine")
        published = f"; publishing to {service.config.alerts_topic.topic}" if engine.publish else ""
        return (
            f"engine on {engine.topic} at {kafka.describe()}: more than {engine.threshold} "
            f"{engine.level} events per {engine.group_by} within {engine.window_s:g} s alerts"
            f"{published}; notifications: {service.notifier_name}; "
            + (f"heartbeat every {heartbeat.interval_s:g} s" if heartbeat else "no heartbeat")
        )

    await serve_until_signalled(service, start)
