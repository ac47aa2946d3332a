"""`logtray tray` (also plain `logtray`): the tray icon with the listener and the stack."""

from __future__ import annotations

import argparse
from typing import Any

from tray.commands.listen import flags_from


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("tray", help="the tray icon (what `logtray` alone runs)")
    parser.add_argument("--port", type=int, help="listener TCP port (default 10000)")
    parser.add_argument(
        "--host", action="append", dest="hosts", metavar="HOST", help="listener address, repeatable"
    )
    parser.add_argument(
        "--notifier",
        choices=["auto", "desktop", "plyer", "console"],
        help="how to show alerts (default: auto)",
    )
    parser.add_argument("--profile", choices=["full", "lite"], help="stack profile")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tray.app import TrayApp
    from tray.config import load_config

    flags = flags_from(args)
    if args.profile:
        flags["stack"] = {"profile": args.profile}
    return TrayApp(load_config(flags)).run()
