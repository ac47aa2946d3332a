"""`logtray tray` (also plain `logtray`): the tray icon with the listener and the stack."""

from __future__ import annotations

import argparse
from typing import Any

from logtray.tray.commands.common import add_listener_options, listener_flags


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("tray", help="the tray icon (what `logtray` alone runs)")
    add_listener_options(parser)
    parser.add_argument("--profile", choices=["full", "lite", "team"], help="stack profile")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logtray.tray.base.config import load_config
    from logtray.tray.desktop.app import TrayApp

    flags = listener_flags(args)
    if args.profile:
        flags["stack"] = {"profile": args.profile}
    return TrayApp(load_config(flags)).run()
