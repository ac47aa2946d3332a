"""`logtray engine`: the embedded error-spike rule on program-logs, headless (lite profile)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from tray.config import load_config
from tray.service import AlertService


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "engine", help="run the error-spike rule on Kafka logs and show notifications"
    )
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka (default 127.0.0.1:9094)")
    parser.add_argument("--topic", help="log topic (default program-logs)")
    parser.add_argument(
        "--notifier",
        choices=["auto", "desktop", "plyer", "console"],
        help="how to show alerts (default: auto)",
    )
    parser.set_defaults(run=run)


def flags_from(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    flags: dict[str, dict[str, Any]] = {}
    if args.bootstrap:
        flags.setdefault("engine", {})["bootstrap"] = args.bootstrap
    if args.topic:
        flags.setdefault("engine", {})["topic"] = args.topic
    if args.notifier:
        flags["notifier"] = {"backend": args.notifier}
    return flags


def run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(AlertService(load_config(flags_from(args)))))
    return 0


async def _serve(service: AlertService) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    await service.start(listen=False)
    service.start_engine()
    engine = service.config.engine
    print(
        f"logtray: engine on {engine.topic} at {engine.bootstrap}: more than {engine.threshold} "
        f"{engine.level} events per {engine.group_by} within {engine.window_s:g} s alerts; "
        f"notifications: {service.notifier_name}. Ctrl+C stops.",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await service.stop()
