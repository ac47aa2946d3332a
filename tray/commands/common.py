"""Pieces the long-running commands (listen, engine, tray) share."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, get_args

from logtray.tray.base.config import NotifierBackend
from logtray.tray.delivery.service import AlertService


def add_listener_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="listener TCP port (default 10000)")
    parser.add_argument(
        "--host",
        action="append",
        dest="hosts",
        metavar="HOST",
        help="address to bind, repeatable (default: 127.0.0.1 and the Docker bridge gateway)",
    )
    add_notifier_option(parser)


def listener_flags(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Command-line layer of the config from add_listener_options' flags."""
    flags: dict[str, dict[str, Any]] = {}
    if args.port is not None:
        flags.setdefault("listener", {})["port"] = args.port
    if args.hosts:
        flags.setdefault("listener", {})["hosts"] = list(args.hosts)
    notifier_flags(args, flags)
    return flags


def add_notifier_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notifier",
        choices=list(get_args(NotifierBackend)),
        help="how to show alerts (default: auto)",
    )


def notifier_flags(args: argparse.Namespace, flags: dict[str, dict[str, Any]]) -> None:
    if args.notifier:
        flags["notifier"] = {"backend": args.notifier}


async def serve_until_signalled(service: AlertService, start: Callable[[], Awaitable[str]]) -> None:
    """Start the service (`start` returns the sentence to print), run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    ready = await start()
    print(f"logtray: {ready}. Ctrl+C stops.", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await service.stop()
