"""`logtray kinds [--json]`: the error kinds the engine knows; `resolve`, `mute`, `reopen` one.

The kinds are read from their Kafka topic ([kinds] topic, on the engine's Kafka); a state
written there is taken over by a running engine at once, and by the next one on its start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from logtray.pipeline.kinds import KnownKind, State
from logtray.tray.alerts.evidence import clean_text
from logtray.tray.alerts.kafka_source import describe_kafka_error, security_options
from logtray.tray.alerts.kind_alerts import service_label
from logtray.tray.alerts.kinds_topic import read_kinds, set_kind_state
from logtray.tray.base.config import Config, load_config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.commands.stack_cmd import stack_kafka

_STATES: dict[str, State] = {"resolve": "resolved", "mute": "muted", "reopen": "open"}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("kinds", help="list the error kinds seen; resolve, mute or reopen one")
    parser.add_argument("--json", action="store_true", help="one JSON array, latest seen first")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka (default: the engine's)")
    parser.set_defaults(run=run_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    for action, state in _STATES.items():
        told = {
            "resolve": "a kind seen again is told as Regressed",
            "mute": "never told again",
            "reopen": "told as usual again",
        }[action]
        one = actions.add_parser(action, help=f"mark a kind {state} ({told})")
        one.add_argument("kind", metavar="KIND", help="the kind's id (as `logtray kinds` lists)")
        one.add_argument("--service", help="the service (when the id is known for several)")
        one.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka (default: the engine's)")
        one.set_defaults(run=run_state, state=state)


def _config(args: argparse.Namespace) -> Config:
    # --bootstrap is [engine] bootstrap from the command line, checked as that key is (a
    # bad one is one sentence, not a Kafka error later); stack_kafka then takes it as written.
    if args.bootstrap is None:
        return load_config()
    return load_config({"engine": {"bootstrap": args.bootstrap}})


def _where(config: Config) -> tuple[str, dict[str, Any]]:
    return stack_kafka(config).bootstrap, security_options(config.engine)


def _read(config: Config, bootstrap: str, options: dict[str, Any]) -> list[KnownKind]:
    try:
        return asyncio.run(read_kinds(bootstrap, config.kinds.topic, options))
    except Exception as exc:
        raise LogtrayError(
            f"cannot read the error kinds from {config.kinds.topic} at {bootstrap}: "
            f"{describe_kafka_error(exc)}",
            fix="start the stack (`logtray stack up`), or name its Kafka with --bootstrap",
        ) from exc


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def run_list(args: argparse.Namespace) -> int:
    config = _config(args)
    bootstrap, options = _where(config)
    kinds = sorted(_read(config, bootstrap, options), key=lambda k: -k.last_seen)
    if args.json:
        print(json.dumps([k.to_json() for k in kinds], ensure_ascii=False, indent=1))
        return 0
    if not kinds:
        print(f"no error kinds kept yet ({config.kinds.topic} at {bootstrap})")
        return 0
    print(
        f"{'SERVICE':<16} {'KIND':<12} {'STATE':<8} {'COUNT':>7}  {'FIRST SEEN':<19}  "
        f"{'LAST SEEN':<19}  WHAT — EXAMPLE"
    )
    for known in kinds:
        kind = known.kind
        what = clean_text(kind.label(), 60) + " — " + clean_text(known.example or kind.template, 80)
        print(
            f"{clean_text(kind.service or '-', 16):<16} {kind.id:<12} "
            f"{known.state:<8} {known.count:>7}  {_when(known.first_seen)}  "
            f"{_when(known.last_seen)}  {what}"
        )
    print("\n`logtray kinds resolve KIND` marks one resolved: seen again, it is told as Regressed")
    return 0


def run_state(args: argparse.Namespace) -> int:
    config = _config(args)
    bootstrap, options = _where(config)
    state: State = args.state
    changed = asyncio.run(
        set_kind_state(bootstrap, config.kinds.topic, options, args.kind, args.service, state)
    )
    for known in changed:
        print(f"{service_label(known.kind.service)}: {known.kind.label()} is {state}")
    return 0
