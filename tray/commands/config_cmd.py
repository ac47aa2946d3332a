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
    from logtray.tray.commands.stack_cmd import stack_kafka

    config = load_config()
    # [engine] bootstrap as the stack's readers use it (tray/base/kafka_address.py), as
    # `logtray doctor` names it: an unwritten default gives way to the port the stack's kafka
    # container publishes. Without an engine that answers it is the default, and says so.
    kafka = stack_kafka(config)
    shown = {("engine", "bootstrap"): (kafka.bootstrap, kafka.origin())}
    print(to_toml(config, in_effect=shown), end="")
    return 0
