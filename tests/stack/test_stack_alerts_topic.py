"""The full profile keeps its alerts on the stack's own Kafka, on every engine (tests/stack/
engines.py), with local stand-ins (the Kafka is tansu in a container): `logtray stack up`
makes the alerts topic once Kafka is ready; alerts published there while no tray runs (what
Riemann does; its stand-in here serves only its health check) are one "While you were away"
desktop notification when the tray starts and adopts the stack; an alert that then comes both
ways (the topic and the TCP line, one id) is one more notification, and the history holds
every alert once."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from logtray.tray.alerts.dedupe import alert_id
from logtray.tray.base import paths
from tests.pipeline.kafka_util import produce
from tests.stack.standins import standin_services
from tests.support.processes import logtray
from tests.support.tray import start_tray
from tests.support.tray_stack import published, tray_beside_stack, tray_log, wait_log

pytestmark = [pytest.mark.docker, pytest.mark.desktop]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "stack-alerts-topic"


def config_toml(name: str) -> str:
    """The full profile of stand-ins (tests/stack/standins.py); no heartbeat (Riemann's
    stand-in answers none)."""
    lines = [
        "[listener]",
        'token = "alerts-topic-token"',
        "[stack]",
        'profile = "full"',
        f'name = "{name}"',
        "pull = false",
        "ready_timeout_s = 60",
        "heartbeat_s = 0",
    ]
    for service, override in standin_services().items():
        lines.append(f"[stack.services.{service}]")
        lines.append(f"image = {json.dumps(override.image)}")
        if override.command is not None:
            lines.append(f"command = {json.dumps(list(override.command))}")
        if override.ports:
            ports = ", ".join(f"{json.dumps(k)} = {v}" for k, v in override.ports.items())
            lines.append(f"ports = {{ {ports} }}")
        if override.healthcheck is not None:
            lines.append(f"healthcheck = {json.dumps(list(override.healthcheck))}")
        if override.healthcheck_interval_s is not None:
            lines.append(f"healthcheck_interval_s = {override.healthcheck_interval_s}")
        if override.mem_limit:
            lines.append(f"mem_limit = {json.dumps(override.mem_limit)}")
    return "\n".join(lines) + "\n"


def riemann_record(n: int, path: str) -> dict[str, Any]:
    """An alert as riemann.config writes it to the topic (the TCP line adds the token)."""
    at = 1764000000.0 + n
    pathname = f"/app/{path}"
    return {
        "pathname": pathname,
        "lineno": 10 + n,
        "count": 26,
        "window_s": 10,
        "threshold": 25,
        "message": "boom",
        "level": "ERROR",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000Z",
        "id": alert_id(pathname, at),
    }


def history_ids() -> list[str]:
    path = paths.history_file()
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def test_alerts_kept_while_the_tray_was_closed_are_told_once_when_it_adopts_the_stack(
    on_engine: docker.DockerClient, engine_stack_name: str, tmp_path: Path
) -> None:
    client, name = on_engine, engine_stack_name
    with tray_beside_stack(client, name, tmp_path, config_toml(name)) as tray:
        desktop, env = tray.desktop, tray.env
        up = logtray("stack", "up", env=env, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "kafka: created logtray-alerts (kept 7 days)" in up.stdout, up.stdout
        bootstrap = f"127.0.0.1:{published(client, name)}"
        # No tray runs: Riemann's TCP sends find no one; the topic keeps the alerts. One
        # record per produce (tansu's partition end is its last batch's first offset + 1).
        missed = [riemann_record(n, path) for n, path in enumerate(["a.py", "b.py", "a.py"])]
        for record in missed:
            asyncio.run(produce(bootstrap, "logtray-alerts", [json.dumps(record).encode()]))

        app, _icon = start_tray(env, ARTIFACTS, "healthy")  # it adopts the running stack
        try:
            wait_log(f"reading the stack's alerts topic logtray-alerts at {bootstrap}", 60)
            summary = desktop.wait_for(
                lambda: [c for c in desktop.notify_calls() if "away" in str(c["title"])],
                timeout=60,
                what="the While you were away notification",
            )
            assert len(summary) == 1 and ": 3 alerts" in str(summary[0]["title"]), summary
            # Open now: Riemann's next alert comes both ways, told once.
            live = riemann_record(10, "live.py")
            asyncio.run(produce(bootstrap, "logtray-alerts", [json.dumps(live).encode()]))
            port = int(env["LOGTRAY_LISTENER_PORT"])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                line = {**live, "token": "alerts-topic-token"}
                conn.sendall(json.dumps(line).encode() + b"\n")
            desktop.wait_for(
                lambda: [c for c in desktop.notify_calls() if "live.py" in str(c["title"])],
                timeout=60,
                what="the live alert's notification",
            )
            deadline = time.monotonic() + 60
            while len(history_ids()) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            assert app.stop() == 0
        titles = [str(c["title"]) for c in desktop.notify_calls()]
        assert len(titles) == 2 and "live.py" in titles[1], titles
        assert sorted(history_ids()) == sorted(r["id"] for r in [*missed, live])
        log = tray_log().read_text()
        assert "Traceback" not in log, log
