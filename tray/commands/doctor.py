"""`logtray doctor`: check what logtray needs on this machine; print the fix for each failure."""

from __future__ import annotations

import argparse
import asyncio
import errno
import math
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from logtray.tray.base.config import Config, ConfigError, load_config
from logtray.tray.base.kafka_address import KafkaAddress
from logtray.tray.commands.stack_cmd import stack_kafka
from logtray.tray.delivery.notifiers.select import NOTIFICATION_SERVER_FIX

LOGS_MINUTES = 10.0  # how far back `logtray doctor` reads the logs topic by default
LOGS_BUDGET = 5000  # at most this many of its messages


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor", help="check display, tray, notifications, the container engine, port, config"
    )
    parser.add_argument(
        "--minutes",
        type=_minutes,
        default=LOGS_MINUTES,
        help=f"how far back to read the services' logs (default {LOGS_MINUTES:g})",
    )
    parser.set_defaults(run=run)


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 24 * 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes from 0 to 1440")
    return value


def check_config() -> tuple[Check, Config | None]:
    try:
        config = load_config()
    except ConfigError as exc:
        return Check("config", False, exc.message, exc.fix or ""), None
    where = config.path if config.path.exists() else f"{config.path} (not created yet: defaults)"
    return Check("config", True, str(where)), config


def check_display() -> Check:
    if not sys.platform.startswith("linux"):
        return Check("display", True, sys.platform)
    display = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY")
    if not display:
        return Check(
            "display",
            False,
            "no DISPLAY or WAYLAND_DISPLAY: no graphical session",
            "run logtray inside your desktop session; headless, use `logtray listen "
            "--notifier console`",
        )
    return Check("display", True, display)


def check_tray_backend() -> Check:
    from logtray.tray.desktop.traycheck import tray_problem

    problem = tray_problem()
    if problem:
        return Check(
            "tray icon",
            False,
            problem,
            "see the README's Platforms section; without a tray logtray runs headless",
        )
    return Check(
        "tray icon",
        True,
        "a tray host and PyGObject are available" if sys.platform.startswith("linux") else "native",
    )


def check_notifications() -> Check:
    if not sys.platform.startswith("linux"):
        return Check("notifications", True, "native (desktop-notifier)")
    from logtray.tray.delivery.notifiers.linux_server import notification_server_problem

    problem = asyncio.run(notification_server_problem())
    if problem:
        return Check("notifications", False, problem, NOTIFICATION_SERVER_FIX)
    return Check("notifications", True, "a notification server is on the session bus")


def check_docker() -> Check:
    """Which engine, in which mode, at which endpoint ("engine: Podman 4.3.1, rootless, socket
    unix:///run/user/1000/podman/podman.sock"), or why none answers."""
    from logtray.stack.engine import choose_endpoint, connect
    from logtray.stack.engine_info import inspect_engine
    from logtray.tray.base.errors import LogtrayError

    try:
        client = connect(timeout=5)
    except LogtrayError as exc:
        return Check("engine", False, exc.message, exc.fix or "")
    try:
        engine = inspect_engine(client)
    finally:
        client.close()
    source = choose_endpoint(os.environ).source
    found = f" (found via {source})" if source in ("docker context", "Podman's socket") else ""
    return Check("engine", True, f"{engine.describe()}, API {engine.api_version}{found}")


def check_port(config: Config) -> Check:
    port = config.listener.port
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                from logtray.stack.ports import port_holder

                holder = port_holder(port)
                return Check(
                    "listener port",
                    False,
                    f"127.0.0.1:{port} is taken" + (f" by {holder}" if holder else ""),
                    "if that is a running logtray, all is well; otherwise stop it or set "
                    "[listener] port",
                )
            return Check("listener port", False, f"cannot bind 127.0.0.1:{port}: {exc}")
    return Check("listener port", True, f"127.0.0.1:{port} is free")


def check_tray_problem() -> Check:
    """What the running tray last failed at (a start/stop/repair, Docker going away), in full:
    the tray's menu has room for a short line only."""
    from logtray.tray.desktop.failure import load

    problem = load()
    if problem is None:
        return Check("tray", True, "no failed stack action or lost Docker")
    return Check("tray", False, problem.report(), problem.fix or "")


def check_stack_incidents() -> Check:
    """The stack services the running tray saw exit, OOM-killed, unhealthy or looping, in
    full: the cause and the fix (the menu shows a short line each)."""
    from logtray.tray.desktop.incident_store import load

    incidents = load()
    if not incidents:
        return Check("stack services", True, "none failed while the tray watched")
    detail = "; ".join(f"{i.title}: {i.cause}" for i in incidents)
    fixes = "; ".join(f"{i.service}: {i.fix}" for i in incidents)
    return Check("stack services", False, detail, fixes)


def check_heartbeat() -> Check:
    """What the running tray's (or `logtray engine`'s) heartbeat last proved: the whole path
    from Kafka through the rule to the listener, all day (the canary below checks one hop)."""
    import time

    from logtray.tray.alerts.heartbeat import read_report
    from logtray.tray.base import paths

    status = read_report(paths.heartbeat_file(), time.time())
    if status is None:
        return Check("heartbeat", True, "not checked: no heartbeat ran here ([stack] heartbeat_s)")
    return Check("heartbeat", not (status.failing or status.late), status.line, status.fix)


def check_kafka(config: Config, kafka: KafkaAddress) -> Check:
    """The address the engine, the heartbeat and these checks read the stack's Kafka at, where
    it came from (tray/base/kafka_address.py), and whether it answers there (one connection;
    not for the default while no stack runs: nothing is expected there then)."""
    from logtray.tray.alerts.kafka_diagnosis import probe
    from logtray.tray.alerts.kafka_source import security_options
    from logtray.tray.base.errors import LogtrayError

    if kafka.source == "default":
        return Check("kafka", True, f"{kafka.describe()}; not checked")
    try:
        problem = asyncio.run(probe(kafka.bootstrap, security_options(config.engine), 5.0))
    except LogtrayError as exc:  # e.g. an ssl_cafile that cannot be read
        return Check("kafka", False, f"{kafka.describe()}: {exc.message}", exc.fix or "")
    if problem is not None:
        return Check("kafka", False, f"{kafka.describe()}: {problem.sentence}", problem.fix)
    return Check("kafka", True, f"{kafka.describe()}; it answers")


def check_logs(
    config: Config, kafka: KafkaAddress, minutes: float = LOGS_MINUTES, now: float | None = None
) -> list[Check]:
    """Per service, what the last minutes of the logs topic say to the rule: records read, the
    logger's convention recognized, errors counted, and what it could not read (one example and
    the reason; a service with no level it reads is told with the fix). Read from Kafka itself
    (the tail of the topic, bounded), so it works whether or not the tray runs."""
    import time

    from logtray.pipeline.census import Census
    from logtray.tray.alerts.kafka_source import security_options
    from logtray.tray.alerts.log_tail import read_tail
    from logtray.tray.base.errors import LogtrayError
    from logtray.tray.base.text import shown_text

    topic = config.engine.topic
    since = (time.time() if now is None else now) - minutes * 60
    try:
        tail = asyncio.run(
            asyncio.wait_for(
                read_tail(
                    kafka.bootstrap, topic, since, LOGS_BUDGET, security_options(config.engine)
                ),
                60.0,
            )
        )
    except LogtrayError as exc:
        return [Check("logs", True, f"not checked: {exc.message}")]
    except Exception as exc:
        return [
            Check("logs", True, f"not checked: cannot read {topic!r} at {kafka.bootstrap} ({exc})")
        ]
    census = Census(level=config.engine.level)
    for value in tail.values:
        census.add(value)
    span = f"the last {LOGS_BUDGET:,} messages" if tail.cut else f"the last {minutes:g} min"
    if not census.services:
        return [Check("logs", True, f"no service wrote to {topic!r} in {span}")]
    head = Check(
        "logs",
        True,
        f"{census.records:,} records of {len(census.services)} service(s) in {span} of {topic!r}",
    )
    return [head] + [
        Check(
            f"logs of {shown_text(t.who)}",
            t.ok,
            shown_text(t.summary()),
            t.fix(),
        )
        for t in census.tallies()
    ]


def check_riemann_lag(config: Config, kafka: KafkaAddress | None = None) -> Check:
    """How far Riemann's Kafka consumer is behind the logs (its group's committed offsets vs
    the log end): its alerts come that late."""
    import asyncio
    import time

    from logtray.tray.alerts.consumer_lag import RIEMANN_GROUP, group_lag

    engine, limit = config.engine, config.stack.max_alert_delay_s
    if config.stack.profile == "lite":
        return Check("riemann lag", True, "not checked: the lite profile has no Riemann")
    bootstrap = (kafka or stack_kafka(config)).bootstrap
    try:
        lag = asyncio.run(
            asyncio.wait_for(group_lag(bootstrap, engine.topic, RIEMANN_GROUP, time.time()), 10.0)
        )
    except Exception as exc:
        return Check("riemann lag", True, f"not checked: cannot read Kafka at {bootstrap} ({exc})")
    text = lag.text("Riemann's consumer")
    if lag.seconds is not None and lag.seconds > limit:
        return Check(
            "riemann lag",
            False,
            f"alerts are late: {text} (more than {limit:g} s)",
            "a flood of logs, or a slow Elasticsearch holding Riemann's writes: "
            "`logtray stack logs riemann`; raise [stack] max_alert_delay_s to accept it",
        )
    return Check("riemann lag", True, text)


def check_history() -> Check:
    """The alert history file can be read and written (else alerts are kept in memory only)."""
    from logtray.tray.alerts.history import AlertHistory
    from logtray.tray.base.paths import history_file

    path = history_file()
    fix = "make it a writable regular file, or move it away (logtray creates a new one)"
    history = AlertHistory(path, read_only=True)
    if history.failure:
        return Check("alert history", False, history.failure, fix)
    folder = path if path.exists() else path.parent
    while not folder.exists():
        folder = folder.parent
    try:
        space = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        space = None
    if not os.access(folder, os.W_OK) or (space and space.f_flag & os.ST_RDONLY):
        return Check("alert history", False, f"{path} cannot be written (read-only)", fix)
    if space and space.f_bavail == 0:
        return Check("alert history", False, f"no space left for {path}", "free some disk space")
    return Check("alert history", True, f"{path} ({len(history)} alerts)")


def check_alert_path(config: Config) -> Check:
    """The same canary `stack up` sends: from the stack's riemann container to the listener."""
    from logtray.stack.canary import check_stack
    from logtray.stack.engine import connect
    from logtray.stack.manager import StackManager
    from logtray.tray.base.errors import LogtrayError
    from logtray.tray.commands.stack_cmd import stack_specs

    try:
        client = connect(timeout=30)
        specs = stack_specs(config, lenient=True)
    except LogtrayError as exc:
        return Check("alert path", True, f"not checked: {exc.message}")
    try:
        result = check_stack(StackManager(client, config.stack.name, specs))
    finally:
        client.close()
    if result is None:
        return Check("alert path", True, "not checked: the stack's riemann is not running")
    return Check("alert path", result.ok, result.message, result.fix)


def check_team_kafka(config: Config) -> list[Check]:
    """The team's Kafka as this desktop reaches it: TLS and SASL included (one connection)."""
    from logtray.tray.alerts.kafka_diagnosis import probe
    from logtray.tray.alerts.kafka_source import security_options
    from logtray.tray.base.config import KafkaConnection
    from logtray.tray.base.errors import LogtrayError

    wanted: list[tuple[str, KafkaConnection]] = []
    if config.alerts_topic.enabled:
        wanted.append(("team alerts", config.alerts_topic))
    if config.engine.publish:
        wanted.append(("publishing", config.engine))
    checks = []
    for name, settings in wanted:
        bootstrap = settings.bootstrap
        try:
            problem = asyncio.run(probe(bootstrap, security_options(settings)))
        except LogtrayError as exc:  # e.g. an ssl_cafile that cannot be read
            checks.append(Check(name, False, exc.message, exc.fix or ""))
            continue
        if problem is None:
            checks.append(Check(name, True, f"Kafka at {bootstrap} ({settings.security_protocol})"))
        else:
            checks.append(
                Check(name, False, f"Kafka at {bootstrap}: {problem.sentence}", problem.fix)
            )
    return checks


def check_team_stack(config: Config) -> list[Check]:
    """The team profile: where teammates connect and the CA's fingerprint they check."""
    from logtray.tray.base.errors import LogtrayError
    from logtray.tray.commands.stack_cmd import team_summary

    if config.stack.profile != "team":
        return []
    try:
        summary = team_summary(config)
    except LogtrayError as exc:
        return [Check("team stack", False, exc.message, exc.fix or "")]
    return [Check("team stack", True, (summary or "").removeprefix("team: "))]


def check_shipping(config: Config) -> Check:
    """The containers [ship] chooses now, and what the tray (or `logtray ship`) shipped and
    dropped of each, from the counts it last wrote."""
    from logtray.stack.engine import connect
    from logtray.stack.ship.choose import chosen, service_of
    from logtray.stack.ship.shipper import read_status
    from logtray.tray.base import paths
    from logtray.tray.base.errors import LogtrayError

    if not config.ship.enabled:
        return Check("shipping", True, "off ([ship] enabled = false)")
    try:
        client = connect(timeout=5)
    except LogtrayError:
        return Check("shipping", True, "not checked: no container engine answers")
    try:
        summaries = client.api.containers(all=True)
    except Exception as exc:  # the engine went away, or answered nonsense
        return Check("shipping", True, f"not checked: listing containers failed ({exc})")
    finally:
        client.close()
    found: list[tuple[str, str, bool]] = []
    for summary in summaries:
        name = str((summary.get("Names") or [""])[0]).lstrip("/")
        labels = summary.get("Labels") or {}
        if chosen(name, labels, config.ship):
            found.append((name, service_of(name, labels), summary.get("State") == "running"))
    return shipping_check(sorted(found), read_status(paths.ship_dir()))


def shipping_check(found: list[tuple[str, str, bool]], status: dict[str, Any] | None) -> Check:
    """`check_shipping`'s verdict from the chosen containers and the shipper's last counts."""
    counts = {
        str(c.get("name")): c for c in (status or {}).get("containers") or [] if isinstance(c, dict)
    }
    if not found:
        return Check(
            "shipping",
            True,
            "no container chosen: label one `logtray.logs=true`, or name them in [ship] "
            "(compose_projects, compose_services, names)",
        )
    parts = []
    dropped = 0
    for name, service, running in found:
        text = service if service == name else f"{service} ({name})"
        seen = counts.get(name)
        if seen is None:
            text += ": not shipped yet" + ("" if running else " (not running)")
        else:
            text += f": {int(seen.get('shipped') or 0):,} shipped"
            lost = int(seen.get("dropped") or 0)
            dropped += lost
            text += f", {lost:,} dropped" if lost else ""
        parts.append(text)
    detail = f"{len(found)} chosen: " + "; ".join(parts)
    problem = (status or {}).get("problem")
    if dropped or problem:
        return Check(
            "shipping",
            False,
            detail + (f"; {problem}" if problem else ""),
            "start the stack (`logtray stack up`) so Kafka takes the lines; dropped lines are "
            "counted, not shipped",
        )
    return Check("shipping", True, detail)


def run_checks(minutes: float = LOGS_MINUTES) -> list[Check]:
    config_check, config = check_config()
    checks = [config_check, check_display(), check_tray_backend(), check_notifications()]
    docker_check = check_docker()
    checks.append(docker_check)
    checks.append(check_tray_problem())
    checks.append(check_stack_incidents())
    checks.append(check_heartbeat())
    checks.append(check_history())
    if config:
        checks.append(check_port(config))
        kafka = stack_kafka(config)
        kafka_check = check_kafka(config, kafka)
        checks.append(kafka_check)
        if kafka_check.ok and not kafka_check.detail.endswith("not checked"):
            checks.extend(check_logs(config, kafka, minutes))
        checks.extend(check_team_kafka(config))
        checks.extend(check_team_stack(config))
        if docker_check.ok:
            checks.append(check_shipping(config))
            path = check_alert_path(config)
            checks.append(path)
            if not path.detail.startswith("not checked"):  # Riemann runs: is it behind?
                checks.append(check_riemann_lag(config, kafka))
    return checks


def render(checks: list[Check]) -> str:
    """The report as printed: one line a check, its fix under a failed one, then the count."""
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"\n{len(checks) - failed} ok, {failed} to fix")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    checks = run_checks(getattr(args, "minutes", LOGS_MINUTES))
    print(render(checks))
    return 1 if any(not c.ok for c in checks) else 0
