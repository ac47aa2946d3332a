"""`logtray doctor`: check what logtray needs on this machine; print the fix for each failure."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from logtray.tray.base.config import Config, ConfigError, load_config
from logtray.tray.delivery.notifiers.select import NOTIFICATION_SERVER_FIX


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor", help="check display, tray, notifications, Docker, port, config"
    )
    parser.set_defaults(run=run)


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
    from logtray.stack.engine import connect
    from logtray.tray.base.errors import LogtrayError

    try:
        client = connect(timeout=5)
    except LogtrayError as exc:
        return Check("docker", False, exc.message, exc.fix or "")
    try:
        version = client.version()
    finally:
        client.close()
    engine, api = version.get("Version", "?"), version.get("ApiVersion", "?")
    return Check("docker", True, f"Docker engine {engine} (API {api})")


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
    from logtray.stack.specs import resolve
    from logtray.tray.base.errors import LogtrayError

    try:
        client = connect(timeout=30)
        specs = resolve(config.stack, config.listener)
    except LogtrayError as exc:
        return Check("alert path", True, f"not checked: {exc.message}")
    try:
        result = check_stack(StackManager(client, config.stack.name, specs))
    finally:
        client.close()
    if result is None:
        return Check("alert path", True, "not checked: the stack's riemann is not running")
    return Check("alert path", result.ok, result.message, result.fix)


def run_checks() -> list[Check]:
    config_check, config = check_config()
    checks = [config_check, check_display(), check_tray_backend(), check_notifications()]
    docker_check = check_docker()
    checks.append(docker_check)
    checks.append(check_tray_problem())
    checks.append(check_history())
    if config:
        checks.append(check_port(config))
        if docker_check.ok:
            checks.append(check_alert_path(config))
    return checks


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"      fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - failed} ok, {failed} to fix")
    return 1 if failed else 0
