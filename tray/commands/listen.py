"""`logtray listen`: the headless listener with notifications (replaces the netcat loop)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from tray.config import ensure_token, load_config
from tray.service import AlertService


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("listen", help="receive alerts on a TCP port and show notifications")
    parser.add_argument("--port", type=int, help="TCP port (default 10000)")
    parser.add_argument(
        "--host",
        action="append",
        dest="hosts",
        metavar="HOST",
        help="address to bind, repeatable (default: 127.0.0.1 and the Docker bridge gateway)",
    )
    parser.add_argument(
        "--notifier",
        choices=["auto", "desktop", "plyer", "console"],
        help="how to show alerts (default: auto)",
    )
    parser.set_defaults(run=run)


def flags_from(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    flags: dict[str, dict[str, Any]] = {}
    if args.port is not None:
        flags.setdefault("listener", {})["port"] = args.port
    if args.hosts:
        flags.setdefault("listener", {})["hosts"] = list(args.hosts)
    if args.notifier:
        flags["notifier"] = {"backend": args.notifier}
    return flags


def run(args: argparse.Namespace) -> int:
    config = ensure_token(load_config(flags_from(args)))
    asyncio.run(_serve(AlertService(config)))
    return 0


async def _serve(service: AlertService) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    await service.start()
    assert service.listener is not None
    where = ", ".join(f"{host}:{port}" for host, port in service.listener.addresses)
    print(
        f"logtray: listening on {where}; notifications: {service.notifier_name}. Ctrl+C stops.",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await service.stop()
