"""`logtray stack up|down|status|logs|compose`: the thin CLI over stack.manager."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from logtray.tray.base.config import Config, ensure_token, load_config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.kafka_address import NOT_RUNNING, KafkaAddress, choose_kafka


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("stack", help="run the local log stack (Kafka, Riemann, ES, Kibana)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="pull/build what is missing, start in order, wait healthy")
    up.add_argument(
        "--profile",
        choices=("full", "lite", "team"),
        help="which services (default: config); team: the full stack, Kafka opened to teammates",
    )
    up.add_argument(
        "--no-wait",
        action="store_true",
        help="start in dependency order without waiting for readiness",
    )
    up.add_argument(
        "--skip-preflight",
        action="store_true",
        help="do not check the engine's free disk and memory first (config: [stack] preflight)",
    )
    up.set_defaults(run=run_up)
    down = actions.add_parser("down", help="stop and remove the containers (data is kept)")
    down.add_argument(
        "--volumes",
        action="store_true",
        help="also delete the data volumes (Kafka and Elasticsearch data)",
    )
    down.set_defaults(run=run_down)
    status = actions.add_parser("status", help="per-service status")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=run_status)
    logs = actions.add_parser("logs", help="show (and follow) one service's log")
    logs.add_argument("service")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int, default=100, help="lines of history")
    logs.set_defaults(run=run_logs)
    compose = actions.add_parser("compose", help="print the effective stack as docker-compose YAML")
    compose.set_defaults(run=run_compose)


def _config(args: argparse.Namespace) -> Config:
    flags: dict[str, dict[str, Any]] = {}
    if getattr(args, "profile", None):
        flags.setdefault("stack", {})["profile"] = args.profile
    if getattr(args, "skip_preflight", False):
        flags.setdefault("stack", {})["preflight"] = False
    return load_config(flags=flags)


def stack_specs(config: Config, lenient: bool = False) -> Any:
    """The effective specs; the team profile's CA, certificate and logins are made (once) in
    the config's folder. `lenient`: a team profile that cannot be set up is taken as the full
    profile (same services), so `down` and `logs` still work."""
    import dataclasses

    from logtray.stack.specs import resolve
    from logtray.stack.team import material_for

    try:
        team = material_for(config.stack, config.path.parent)
    except LogtrayError:
        if not lenient:
            raise
        full = dataclasses.replace(config.stack, profile="full")
        return resolve(full, config.listener, kinds=config.kinds)
    return resolve(config.stack, config.listener, team, kinds=config.kinds)


def team_summary(config: Config) -> str | None:
    """One line about the team listener (address, security, the CA's fingerprint), or None."""
    from logtray.stack.team import TEAM_MECHANISM, material_for, team_address

    team = material_for(config.stack, config.path.parent)
    if team is None:
        return None
    address = team_address(config.stack)
    return (
        f"team: teammates reach Kafka at {address.host}:{address.port} (published on "
        f"{address.bind}, SASL_SSL with {TEAM_MECHANISM}; `logtray team invite` prints their "
        f"block)\n  CA {team.ca_file}, SHA-256 fingerprint {team.ca_fingerprint}"
    )


def stack_kafka(config: Config, timeout: int = 5) -> KafkaAddress:
    """Where this machine reaches the stack's Kafka (tray/base/kafka_address.py): `[engine]
    bootstrap` when written, else the port the running kafka container publishes (one
    engine call, bounded by `timeout`), else the default; never raises."""
    written = config.written_in("engine", "bootstrap")
    name = config.stack.name
    port, absent = None, NOT_RUNNING
    if written is None:
        from logtray.stack.engine import connect
        from logtray.stack.published import published_port
        from logtray.stack.specs import KAFKA_HOST_PORT

        try:
            client = connect(timeout=timeout)
        except LogtrayError:  # doctor's "engine" line says why
            absent = "no container engine answers"
        else:
            try:
                port = published_port(client, name, "kafka", KAFKA_HOST_PORT)
            except Exception as exc:  # the engine went away, or answered nonsense
                absent = f"the container engine did not say where it runs ({type(exc).__name__})"
            finally:
                client.close()
    return choose_kafka(
        config.engine.bootstrap, written, port, container=f"{name}-kafka", absent=absent
    )


def _manager(config: Config, lenient: bool = False, **kwargs: Any) -> Any:
    from logtray.stack.engine import connect
    from logtray.stack.manager import StackManager
    from logtray.stack.topics import stack_topics

    specs = stack_specs(config, lenient)
    return StackManager(
        connect(),
        config.stack.name,
        specs,
        pull=config.stack.pull,
        ready_timeout_s=config.stack.ready_timeout_s,
        check_resources=config.stack.preflight,
        topics=stack_topics(config.stack),
        **kwargs,
    )


def run_up(args: argparse.Namespace) -> int:
    from logtray.stack.specs import KAFKA_HOST_PORT
    from logtray.stack.status import ServiceStatus

    config = ensure_token(_config(args))  # Riemann needs the listener's token
    lock = threading.Lock()
    table: dict[str, ServiceStatus] = {}
    live: Any = None
    render: Any = None
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.live import Live
        from rich.table import Table

        def render() -> Table:
            t = Table(title=f"stack {config.stack.name!r}")
            t.add_column("service")
            t.add_column("status")
            for svc, st in table.items():
                t.add_row(svc, st.describe())
            return t

        live = Live(render(), console=Console(), refresh_per_second=8, transient=False)

    printed: dict[str, str] = {}

    def line_for(status: ServiceStatus) -> str:
        # Without a live table, pull progress is printed in steps of 25%.
        if status.state == "pulling" and status.percent is not None:
            return f"pulling {int(status.percent) // 25 * 25}%"
        return status.describe()

    def on_status(service: str, status: ServiceStatus) -> None:
        with lock:
            table[service] = status
            if live is not None:
                live.update(render())
                return
            text = line_for(status)
            if printed.get(service) != text:
                printed[service] = text
                print(f"{service}: {text}", flush=True)

    def on_message(message: str) -> None:
        if live is not None:
            live.console.print(message)
        else:
            print(message, flush=True)

    manager = _manager(config, on_status=on_status, on_message=on_message)
    for spec in manager.specs:
        table[spec.name] = ServiceStatus("absent")
    if live is not None:
        live.start()
    try:
        result = manager.up(wait=not args.no_wait)
    finally:
        if live is not None:
            live.stop()
    if not args.no_wait:
        from logtray.stack.kibana import prepare_stack_kibana

        try:
            url = prepare_stack_kibana(manager, config.kibana.url, config.kibana.data_view)
        except LogtrayError as exc:  # the stack runs: say it, and still prove the alert path
            url = None
            fix = f" (fix: {exc.fix})" if exc.fix else ""
            print(f"warning: no Kibana data view: {exc.message}{fix}", file=sys.stderr)
        if url:
            print(f"Kibana data view {config.kibana.data_view!r} is ready at {url}")
    summary = ", ".join(f"{svc} {action}" for svc, action in result.actions.items())
    print(f"stack {config.stack.name!r} is up: {summary}")
    kafka = manager.published_url("kafka", KAFKA_HOST_PORT) if "kafka" in manager.by_name else None
    if kafka:  # where their services, `logtray demo --bootstrap` and the engine reach it
        print(f"kafka: clients on this machine connect to {kafka.removeprefix('http://')}")
    team = team_summary(config)
    if team:
        print(team)
    if not args.no_wait:
        _report_canary(manager)
    return 0


def _report_canary(manager: Any) -> None:
    """The proven alert path: a canary from inside the stack must reach logtray's listener.
    The stack is up either way; a broken path is said in one sentence with its fix."""
    from logtray.stack.canary import check_stack

    result = check_stack(manager)
    if result is None:
        return
    if result.ok:
        print(f"alert path: {result.message}")
    else:
        print(f"warning: {result.message}\n  fix: {result.fix}", file=sys.stderr)


def run_down(args: argparse.Namespace) -> int:
    from logtray.stack.labels import stack_filter

    config = _config(args)
    manager = _manager(config, lenient=True)
    result = manager.down(volumes=args.volumes)
    print(
        f"removed {len(result.containers)} container(s)"
        + (f": {', '.join(result.containers)}" if result.containers else "")
    )
    if args.volumes:
        print(
            f"deleted {len(result.volumes)} data volume(s) and their data"
            + (f": {', '.join(result.volumes)}" if result.volumes else "")
        )
        return 0
    # Say "kept" only about volumes that exist (a stack never started, or reset, has none).
    volumes = manager.client.volumes.list(filters=stack_filter(config.stack.name))
    kept = [str(v.name) for v in volumes]
    if kept:
        print(
            f"kept {len(kept)} data volume(s): {', '.join(sorted(kept))} "
            "(`logtray stack down --volumes` deletes them)"
        )
    return 0


def run_status(args: argparse.Namespace) -> int:
    config = _config(args)
    statuses = _manager(config, lenient=True).status()
    if args.json:
        print(json.dumps({svc: st.to_json() for svc, st in statuses.items()}, indent=2))
    else:
        width = max((len(s) for s in statuses), default=0)
        for svc, st in statuses.items():
            extra = f"  ({st.detail})" if st.detail else ""
            print(f"{svc:<{width}}  {st.describe()}{extra}")
        try:
            team = team_summary(config)
        except LogtrayError as exc:
            team = f"team: {exc.message}" + (f" (fix: {exc.fix})" if exc.fix else "")
        if team:
            print(team)
    return 0


def run_logs(args: argparse.Namespace) -> int:
    config = _config(args)
    out = sys.stdout.buffer
    manager = _manager(config, lenient=True)
    for chunk in manager.logs(args.service, follow=args.follow, tail=args.tail):
        out.write(chunk)
        out.flush()
    return 0


def run_compose(args: argparse.Namespace) -> int:
    from logtray.stack.compose import render

    config = _config(args)
    print(render(config.stack.name, stack_specs(config)), end="")
    return 0
