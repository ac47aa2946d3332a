"""Command line: plain argparse, one function per subcommand in tray/commands/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from logtray.tray.base.errors import run_guarded
from logtray.tray.base.logs import setup_logging


class _VersionAction(argparse.Action):
    """`--version`, with the version read only when asked (importlib.metadata is not loaded
    at the tray's start; see logtray/tray/__init__.py)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from logtray.tray import __version__

        print(f"logtray {__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from logtray.tray.commands import (
        alerts,
        config_cmd,
        demo,
        doctor,
        engine,
        kinds,
        listen,
        send,
        ship,
        stack_cmd,
        team,
        tray_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="logtray",
        description="Error-spike alerts from your local log stack, as desktop notifications.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        tray_cmd,
        listen,
        send,
        engine,
        ship,
        demo,
        stack_cmd,
        alerts,
        kinds,
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
