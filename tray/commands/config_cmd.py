"""`logtray config path|show`."""

from __future__ import annotations

import argparse
from typing import Any

from logtray.tray.base.config import load_config, to_toml
from logtray.tray.base.paths import config_file


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("config", help="show where the config lives and what is in effect")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    path = actions.add_parser("path", help="print the config file's path")
    path.set_defaults(run=run_path)
    show = actions.add_parser("show", help="print the effective config (secrets hidden)")
    show.set_defaults(run=run_show)


def run_path(args: argparse.Namespace) -> int:
    print(config_file())
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(to_toml(load_config()), end="")
    return 0
