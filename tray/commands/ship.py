"""`logtray ship`: the chosen containers' output into program-logs, headless (what the tray
does while it runs)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from logtray.tray.base.config import Config, load_config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.commands.stack_cmd import stack_kafka
from logtray.tray.desktop.shipping import start_shipper


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "ship",
        help="ship your containers' output (stdout/stderr) into program-logs, no code change",
    )
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka (default: [engine] bootstrap if set, else the running stack's Kafka)",
    )
    parser.add_argument(
        "--name",
        action="append",
        dest="names",
        metavar="GLOB",
        help="also follow the containers whose name matches, repeatable ([ship] names)",
    )
    parser.add_argument(
        "--compose-project",
        action="append",
        dest="projects",
        metavar="NAME",
        help="also follow a compose project's containers, repeatable ([ship] compose_projects)",
    )
    parser.set_defaults(run=run)


def flags_from(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    flags: dict[str, dict[str, Any]] = {}
    if args.bootstrap is not None:  # "" too: refused as [engine] bootstrap, not ignored
        flags.setdefault("engine", {})["bootstrap"] = args.bootstrap
    if args.names:
        flags.setdefault("ship", {})["names"] = list(args.names)
    if args.projects:
        flags.setdefault("ship", {})["compose_projects"] = list(args.projects)
    return flags


def run(args: argparse.Namespace) -> int:
    config = load_config(flags_from(args))
    if not config.ship.enabled:
        raise LogtrayError(
            "shipping containers' logs is off ([ship] enabled = false)",
            fix="set [ship] enabled = true (or remove it) in the config file",
        )
    from logtray.stack.engine import connect

    connect(timeout=10).close()  # no engine: say so now, in one sentence
    kafka = stack_kafka(config)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    shipper = start_shipper(config, kafka.bootstrap)
    print(
        f"shipping containers' output to {config.ship.topic} at {kafka.describe()}: {_what(config)}"
    )
    print("Ctrl-C stops; each container reads on from where it stood at the next start.")
    try:
        done.wait()
    finally:
        shipper.stop()
    for item in shipper.snapshot():
        print(f"  {item.name} ({item.service}): {item.shipped} shipped, {item.dropped} dropped")
    return 0


def _what(config: Config) -> str:
    ship = config.ship
    parts = [f"label {label}" for label in ship.labels]
    parts += [f"compose project {p}" for p in ship.compose_projects]
    parts += [f"compose service {s}" for s in ship.compose_services]
    parts += [f"name {glob}" for glob in ship.names]
    return "containers with " + ", or ".join(parts) if parts else "no containers ([ship] is empty)"
