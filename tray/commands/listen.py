"""`logtray listen`: the headless listener with notifications (replaces the netcat loop)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from logtray.tray.base.config import ensure_token, load_config
from logtray.tray.commands.common import add_listener_options, listener_flags, serve_until_signalled
from logtray.tray.delivery.service import AlertService


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("listen", help="receive alerts on a TCP port and show notifications")
    add_listener_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ensure_token(load_config(listener_flags(args)))
    asyncio.run(_serve(AlertService(config)))
    return 0


async def _serve(service: AlertService) -> None:
    async def start() -> str:
        await service.start()
        assert service.listener is not None
        where = ", ".join(f"{host}:{port}" for host, port in service.listener.addresses)
        return f"listening on {where}; notifications: {service.notifier_name}"

    await serve_until_signalled(service, start)
