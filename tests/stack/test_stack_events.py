"""Stack events told, on the real engine with stand-ins and the tray on a real desktop.

While the tray runs, an OOM kill, a SIGKILL, an unhealthy turn and a restart loop each raise
ONE notification naming the service and the cause within 10 s; a recovery is said once; a
clean `stack down` says nothing. `doctor` and `stack status` give the whole text, and the
failed service's last lines are kept for `stack logs`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from logtray.stack.manager import StackManager
from logtray.stack.specs import resolve
from logtray.tray.base.config import ensure_token, load_config
from logtray.tray.desktop.icon import STATUS_COLOURS
from logtray.tray.desktop.state import AppState
from tests.conftest import need
from tests.stack.standins import (
    BUSYBOX_IMAGE,
    DEMO_STANDIN_IMAGE,
    RIEMANN_BASE_IMAGE,
    TANSU_IMAGE,
    open_gate,
)
from tests.support.desktop import missing_tools, start_desktop
from tests.support.processes import logtray
from tests.support.tray import start_tray, tray_env

pytestmark = [pytest.mark.docker, pytest.mark.desktop]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "stack-events"
# A far bound, not the promise of speed: an event that is missed is never told, and a restart
# loop takes several container starts (2-4 s here, many times that on a busy machine). How
# soon each is told is measured by bench/stack_events.py (docs/benchmarks.md).
TOLD_WITHIN_S = 60.0

# demo: runs, then (gate /go) allocates far past its 16 MiB limit: the kernel's OOM killer.
DEMO_OOM = (
    "echo demo up; until [ -e /go ]; do sleep 0.05; done; echo allocating; "
    "x=$(head -c 300000000 /dev/zero | tr '\\\\0' a); echo never"
)
# elasticsearch: serves its health, then (gate /go) exits 3 at once on every (re)start.
ES_LOOP = (
    "mkdir -p /www/_cluster && printf '%s' '{\\\"status\\\":\\\"yellow\\\"}' > "
    "/www/_cluster/health && httpd -p 9200 -h /www; "
    "until [ -e /go ]; do sleep 0.05; done; echo 'fatal: index settings are broken'; exit 3"
)
# kafka's check turns bad while /tmp/sick exists, and says why.
KAFKA_CHECK = (
    "if [ -e /tmp/sick ]; then echo 'broker not answering: disk full'; exit 1; fi; "
    "nc -w 1 127.0.0.1 9092 </dev/null"
)
HTTP_CHECK = "wget -q -O /dev/null http://127.0.0.1:{port}{path}"


def config_toml(name: str, es_command: str | None = None) -> str:
    es = es_command or f'["sh", "-c", "{ES_LOOP}"]'
    return f"""
[listener]
token = "events-test-token"

[stack]
profile = "full"
name = "{name}"
pull = false
ready_timeout_s = 60

[stack.services.kafka]
image = "{TANSU_IMAGE}"
ports = {{ "9094" = 0 }}
healthcheck = ["CMD-SHELL", "{KAFKA_CHECK}"]
healthcheck_interval_s = 0.25
mem_limit = "128m"

[stack.services.elasticsearch]
image = "{BUSYBOX_IMAGE}"
command = {es}
ports = {{ "9200" = 0 }}
healthcheck = []
mem_limit = "64m"

[stack.services.riemann]
image = "{RIEMANN_BASE_IMAGE}"
command = ["sh", "-c", "mkdir -p /www && echo ok > /www/ok && exec httpd -f -p 5555 -h /www"]
healthcheck = ["CMD-SHELL", "{HTTP_CHECK.format(port=5555, path="/ok")}"]
healthcheck_interval_s = 0.25
mem_limit = "64m"

[stack.services.kibana]
image = "{BUSYBOX_IMAGE}"
command = ["nc", "-ll", "-p", "5601", "-e", "/kibana.sh"]
ports = {{ "5601" = 0 }}
healthcheck = ["CMD-SHELL", "{HTTP_CHECK.format(port=5601, path="/api/status")}"]
healthcheck_interval_s = 0.25
mem_limit = "64m"

[stack.services.demo]
image = "{DEMO_STANDIN_IMAGE}"
command = ["sh", "-c", "{DEMO_OOM}"]
ports = {{ "8089" = 0 }}
mem_limit = "16m"
"""


@pytest.fixture(scope="module")
def events_desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = missing_tools()
    need(not missing, f"desktop test tools missing: {', '.join(missing)}")
    desktop = start_desktop(tmp_path_factory.mktemp("stack-events-desktop"), tray_host=True)
    yield desktop
    desktop.stop()


def _calls(desktop: Any, title: str) -> list[dict[str, object]]:
    return [c for c in desktop.notify_calls() if c["title"] == title]


def _choose(icon: Any, state: AppState, action: str, done: Any) -> None:
    """Choose the menu entry, once more if the keystrokes beat the menu's appearance."""
    icon.choose(state, lambda e: e.action == action)
    try:
        done()
    except AssertionError:
        icon.xdotool("key", "Escape", "Escape")
        icon.choose(state, lambda e: e.action == action)
        done()


def _told(desktop: Any, title: str, what: str) -> tuple[dict[str, object], float]:
    """Wait (bounded) for the notification titled `title`; it and how long it took."""
    t0 = time.monotonic()
    calls = desktop.wait_for(lambda: _calls(desktop, title), timeout=TOLD_WITHIN_S, what=what)
    return calls[0], time.monotonic() - t0


def _without_restarts(container: Any) -> None:
    """Lift a restart-looping container's policy. Between two of its restarts the engine
    refuses the update ("cannot update a stopped container"): ask again (bounded)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            container.update(restart_policy={"Name": "no"})
            return
        except docker.errors.APIError as exc:
            if "stopped container" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_stack_events_are_told_once_each_and_a_clean_stop_is_not(
    docker_client: docker.DockerClient,
    stack_name: str,
    tmp_path: Path,
    events_desktop: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desktop = events_desktop
    desktop.reset()
    config_path = tmp_path / "config.toml"
    config_path.write_text(config_toml(stack_name))
    monkeypatch.setenv("LOGTRAY_CONFIG", str(config_path))
    config = ensure_token(load_config())
    manager = StackManager(
        docker_client,
        stack_name,
        resolve(config.stack, config.listener),
        pull=False,
        ready_timeout_s=60,
    )
    manager.up(wait=True)
    env = tray_env(desktop, LOGTRAY_CONFIG=str(config_path))
    app, icon = start_tray(env, ARTIFACTS, "healthy")
    measured: dict[str, float] = {}
    try:
        icon.wait_colour(STATUS_COLOURS["healthy"], timeout=10)

        # 1. OOM kill: the demo allocates past its 16 MiB limit.
        open_gate(docker_client, f"{stack_name}-demo")
        call, measured["oom"] = _told(
            desktop, "logtray: demo was killed: out of memory", "the demo's OOM kill told"
        )
        body = str(call["body"])
        assert "Docker reports OOMKilled: it used all of its 16 MiB memory limit" in body
        assert "fix: raise [stack.services.demo] mem_limit (now 16m)" in body
        icon.wait_colour(STATUS_COLOURS["problem"], timeout=10)
        icon.open_menu()
        icon.screenshot("menu-demo-oom")
        icon.xdotool("key", "Escape")
        saved = desktop.wait_for(
            lambda: manager.saved_logs.read("demo", 100, incident=True),
            timeout=10,
            what="demo's last lines kept",
        )
        assert b"stopped unexpectedly" in saved and b"allocating" in saved

        # The fix: a higher mem_limit, then Repair (here `stack up`, which recreates the demo).
        # Its recovery is said once; `stack logs` still shows what happened.
        config_path.write_text(config_toml(stack_name).replace('"16m"', '"24m"'))
        repaired = StackManager(
            docker_client,
            stack_name,
            resolve(load_config().stack, config.listener),
            pull=False,
            ready_timeout_s=60,
        )
        assert repaired.up(wait=True).actions["demo"] == "recreated"
        desktop.wait_for(
            lambda: _calls(desktop, "logtray: demo recovered"),
            timeout=30,
            what="the demo's recovery told",
        )
        logs = logtray("stack", "logs", "demo", env=env, timeout=60).stdout
        assert "# logtray: demo stopped unexpectedly at" in logs and "allocating" in logs
        assert logs.index("allocating") < logs.index("its current container's log follows")

        # 2. Unhealthy: kafka's check starts failing, then passes again (recovery, once).
        docker_client.containers.get(f"{stack_name}-kafka").exec_run(["touch", "/tmp/sick"])
        call, measured["unhealthy"] = _told(
            desktop, "logtray: kafka is unhealthy", "kafka's unhealthy turn told"
        )
        assert "broker not answering: disk full" in str(call["body"])
        docker_client.containers.get(f"{stack_name}-kafka").exec_run(["rm", "/tmp/sick"])
        desktop.wait_for(
            lambda: _calls(desktop, "logtray: kafka recovered"),
            timeout=30,
            what="kafka's recovery told",
        )

        # 3. SIGKILL (`docker kill`): a new episode of kafka.
        docker_client.containers.get(f"{stack_name}-kafka").kill()
        call, measured["sigkill"] = _told(desktop, "logtray: kafka stopped", "kafka's SIGKILL told")
        assert "killed by SIGKILL" in str(call["body"])

        # 4. A restart loop: Elasticsearch given a restart policy (as a user may), then
        # exiting at once on every start.
        es = docker_client.containers.get(f"{stack_name}-elasticsearch")
        es.update(restart_policy={"Name": "on-failure", "MaximumRetryCount": 20})
        open_gate(docker_client, es.name)
        call, measured["loop"] = _told(
            desktop, "logtray: elasticsearch restarts in a loop", "the restart loop told"
        )
        assert "Docker restarted it 3 times" in str(call["body"])
        assert "exit code 3" in str(call["body"])

        # The whole text in doctor and stack status; the last lines kept for stack logs.
        doctor = logtray("doctor", env=env, timeout=60).stdout
        # (the demo recovered: only what still fails is listed)
        assert "FAIL  stack services: kafka stopped: exit code 137: killed by SIGKILL" in doctor
        assert "elasticsearch restarts in a loop" in doctor and "demo was killed" not in doctor
        status = logtray("stack", "status", env=env, timeout=60).stdout
        assert "exited (137)  (exit code 137: killed by SIGKILL" in status
        assert "fix: `logtray stack logs kafka` shows its last lines" in status

        # 5. A clean stop says nothing more (the loop's policy is lifted first: Docker's
        # own restarts are not ours to stop).
        _without_restarts(es)
        before = len(desktop.notify_calls())
        manager.down()
        icon.wait_phase("stopped", timeout=30)
        icon.wait_colour(STATUS_COLOURS["stopped"], timeout=10)
        assert len(desktop.notify_calls()) == before, desktop.notify_calls()[before:]

        # Each episode was told once, and nothing else was notified.
        titles = [str(c["title"]) for c in desktop.notify_calls()]
        assert sorted(titles) == sorted(
            [
                "logtray: demo was killed: out of memory",
                "logtray: demo recovered",
                "logtray: kafka is unhealthy",
                "logtray: kafka recovered",
                "logtray: kafka stopped",
                "logtray: elasticsearch restarts in a loop",
            ]
        ), titles
    finally:
        (ARTIFACTS / "measured.txt").write_text(
            "".join(f"{k}: told {v:.2f} s after the fault\n" for k, v in measured.items())
        )
        assert app.stop() == 0
        manager.down()


# Elasticsearch as a stand-in answering every request 200 (the busybox image's /kibana.sh):
# enough for readiness and for Repair's PUT /_all/_settings.
ES_ANSWERS_200 = '["nc", "-ll", "-p", "9200", "-e", "/kibana.sh"]'
# What riemann.config sends when Elasticsearch refuses writes at its flood-stage watermark
# (tests/stack/test_riemann_config.py proves that side against a read-only ES stand-in).
FLOOD = {
    "kind": "pipeline",
    "source": "elasticsearch",
    "problem": "flood_stage",
    "status": 429,
    "error": "cluster_block_exception",
    "reason": "index [program-logs-2026.12.02] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
    "exceeded flood-stage watermark, index has read-only-allow-delete block];",
    "index": "program-logs-2026.12.02",
    "failed": 500,
    "of": 500,
}


def test_writes_elasticsearch_refuses_are_told_once_and_repair_clears_the_block(
    docker_client: docker.DockerClient,
    stack_name: str,
    tmp_path: Path,
    events_desktop: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desktop = events_desktop
    desktop.reset()
    config_path = tmp_path / "config.toml"
    config_path.write_text(config_toml(stack_name, es_command=ES_ANSWERS_200))
    monkeypatch.setenv("LOGTRAY_CONFIG", str(config_path))
    config = ensure_token(load_config())
    manager = StackManager(
        docker_client,
        stack_name,
        resolve(config.stack, config.listener),
        pull=False,
        ready_timeout_s=60,
    )
    manager.up(wait=True)
    env = tray_env(desktop, LOGTRAY_CONFIG=str(config_path))
    app, icon = start_tray(env, ARTIFACTS, "healthy")
    try:
        port = int(env["LOGTRAY_LISTENER_PORT"])
        line = json.dumps({**FLOOD, "token": config.listener.token}).encode() + b"\n"
        for _ in range(3):  # riemann.config repeats it while the problem lasts
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(line)
        title = "logtray: Elasticsearch refuses writes: disk full"
        call, _ = _told(desktop, title, "the refused writes told")
        body = str(call["body"])
        assert "Elasticsearch made its indices read-only and refuses writes" in body
        assert "500 of 500 events to program-logs-2026.12.02 refused" in body
        assert "flood-stage watermark (95%)" in body
        assert "fix: free disk where Docker keeps its data" in body and "Repair" in body
        icon.wait_colour(STATUS_COLOURS["problem"], timeout=10)
        doctor = logtray("doctor", env=env, timeout=60).stdout
        assert "elasticsearch refuses writes: Elasticsearch made its indices read-only" in doctor
        # Never an alert: nothing in the history.
        history = Path(env["XDG_DATA_HOME"]) / "logtray" / "alerts.jsonl"
        assert not history.exists() or not history.read_text().strip()

        # Repair, as the menu offers it: the block is cleared through ES's published port.
        offered = AppState(phase="healthy", profile="full", incidents=("x",), es_unblock=True)
        _choose(
            icon,
            offered,
            "es.unblock",
            lambda: desktop.wait_for(
                lambda: _calls(desktop, "logtray: Elasticsearch's read-only block is cleared"),
                timeout=20,
                what="the cleared block told",
            ),
        )
        icon.wait_colour(STATUS_COLOURS["healthy"], timeout=10)
        assert len(_calls(desktop, title)) == 1  # told once, for three reports

        # The tray's own Stop is a stop the user asked for: nothing more is told.
        before = len(desktop.notify_calls())
        _choose(
            icon,
            AppState(phase="healthy", profile="full"),
            "stack.stop",
            lambda: icon.wait_phase("stopping", timeout=10),
        )
        icon.wait_phase("stopped", timeout=60)
        icon.wait_colour(STATUS_COLOURS["stopped"], timeout=10)
        assert len(desktop.notify_calls()) == before, desktop.notify_calls()[before:]
    finally:
        assert app.stop() == 0
        manager.down()
