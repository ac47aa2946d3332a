"""Command line: plain argparse, one function per subcommand in tray/commands/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logtray.tray import __version__
from logtray.tray.base.errors import run_guarded
from logtray.tray.base.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    from logtray.tray.commands import (
        alerts,
        config_cmd,
        demo,
        doctor,
        engine,
        listen,
        send,
        stack_cmd,
        team,
        tray_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="logtray",
        description="Error-spike alerts from your local log stack, as desktop notifications.",
    )
    parser.add_argument("--version", action="version", version=f"logtray {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        tray_cmd,
        listen,
        send,
        engine,
        demo,
        stack_cmd,
        alerts,
        doctor,
        config_cmd,
        team,
    ):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(verbose=args.verbose)
    if args.command is None:
        # No command: the tray app.
        args = parser.parse_args([*(argv or sys.argv[1:]), "tray"])
    return run_guarded(lambda: int(args.run(args)))
