"""`logtray demo`: the demo log generator on this host (no Docker needed)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from logtray.tray.base.config import check_option

if TYPE_CHECKING:
    # The demo (http.server, the Kafka log handler) is imported when `logtray demo` runs:
    # every command, the tray included, builds this parser.
    from logtray.stack.demo.app import DemoSettings


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("demo", help="send demo logs to Kafka (steady, spikes on demand)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka (default 127.0.0.1:9094)")
    parser.add_argument("--topic", help="log topic (default program-logs)")
    parser.add_argument("--spike", action="store_true", help="start with an error spike")
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        # Not 8089: the stack's demo container publishes that on 127.0.0.1 (both can run).
        default="127.0.0.1:8090",
        help="spike endpoint (POST /spike; default 127.0.0.1:8090, '' for none)",
    )
    parser.set_defaults(run=run)


def settings_from(args: argparse.Namespace, environ: dict[str, str]) -> DemoSettings:
    from logtray.stack.demo.app import DemoSettings

    base = DemoSettings.from_env(environ)
    if args.bootstrap is not None:  # checked as [engine] bootstrap is: one sentence, no retries
        check_option("--bootstrap", args.bootstrap, "engine", "bootstrap")
    return DemoSettings(
        bootstrap=base.bootstrap if args.bootstrap is None else args.bootstrap,
        topic=args.topic or base.topic,
        service=base.service,
        info_rate=base.info_rate,
        error_rate=base.error_rate,
        spike_rate=base.spike_rate,
        spike_s=base.spike_s,
        http=args.http,
        spike_at_start=args.spike or base.spike_at_start,
    )


def run(args: argparse.Namespace) -> int:
    from logtray.stack.demo.app import run as run_demo

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return run_demo(settings_from(args, dict(os.environ)), stop)
