"""`logtray stack ...` end to end in a subprocess, with a config file of stand-in overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from logtray.stack.labels import stack_filter
from logtray.stack.published import published_port
from logtray.stack.specs import KAFKA_HOST_PORT
from tests.stack.standins import DEMO_STANDIN_IMAGE, KAFKA_HEALTHCHECK, TANSU_IMAGE

ROOT = Path(__file__).resolve().parents[2]


def config_toml(name: str) -> str:
    return f"""
[listener]
token = "cli-test-token"

[stack]
profile = "lite"
name = "{name}"
pull = false
ready_timeout_s = 60

[stack.services.kafka]
image = "{TANSU_IMAGE}"
ports = {{ "9094" = 0 }}
healthcheck = {list(KAFKA_HEALTHCHECK)!r}
healthcheck_interval_s = 0.25
mem_limit = "128m"

[stack.services.demo]
image = "{DEMO_STANDIN_IMAGE}"
ports = {{ "8089" = 0 }}
"""


def run(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "LOGTRAY_CONFIG": str(tmp_path / "config.toml"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "logtray.tray", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        cwd=tmp_path,
    )


def test_compose_needs_no_engine(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(config_toml("lt-cli-compose"))
    out = run(tmp_path, "stack", "compose", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert out.returncode == 0, out.stderr
    assert '"lt-cli-compose-kafka"' in out.stdout and "cli-test-token" not in out.stdout


def test_config_show_says_no_engine_answers(tmp_path: Path) -> None:
    # [engine] bootstrap not written: the stack's Kafka would stand in, but no engine answers.
    (tmp_path / "config.toml").write_text(config_toml("lt-cli-show"))
    out = run(tmp_path, "config", "show", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert out.returncode == 0, out.stderr
    assert (
        'bootstrap = "127.0.0.1:9094" # the default: [engine] bootstrap is not set and no '
        "container engine answers\n" in out.stdout
    ), out.stdout


def test_daemon_absent_is_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(config_toml("lt-cli-absent"))
    out = run(tmp_path, "stack", "status", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert out.returncode == 1
    assert "Docker is not running" in out.stderr or "not installed" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.docker
def test_up_status_logs_down(
    docker_client: docker.DockerClient, stack_name: str, tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text(config_toml(stack_name))
    up = run(tmp_path, "stack", "up")
    assert up.returncode == 0, up.stderr + up.stdout
    assert "kafka: healthy" in up.stdout and "is up" in up.stdout

    status = run(tmp_path, "stack", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "kafka": {"state": "healthy"},
        "demo": {"state": "running"},
    }

    # `config show` prints the Kafka address the stack's readers use, and where it came from.
    port = published_port(docker_client, stack_name, "kafka", KAFKA_HOST_PORT)
    assert port is not None and port != 9094
    shown = run(tmp_path, "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert (
        f'bootstrap = "127.0.0.1:{port}" # published by the stack\'s kafka container '
        f"{stack_name}-kafka\n" in shown.stdout
    ), shown.stdout

    logs = run(tmp_path, "stack", "logs", "demo")
    assert "demo stand-in" in logs.stdout

    kept = run(tmp_path, "stack", "down")
    assert kept.returncode == 0, kept.stderr
    assert "removed 2 container(s)" in kept.stdout
    assert f"kept 1 data volume(s): {stack_name}-kafka-data " in kept.stdout
    up = run(tmp_path, "stack", "up")
    assert up.returncode == 0, up.stderr + up.stdout

    down = run(tmp_path, "stack", "down", "--volumes")
    assert down.returncode == 0, down.stderr
    assert "removed 2 container(s)" in down.stdout and "deleted 1 data volume" in down.stdout
    again = run(tmp_path, "stack", "down")
    assert again.returncode == 0 and "kept" not in again.stdout  # no volumes: nothing kept
    assert docker_client.containers.list(all=True, filters=stack_filter(stack_name)) == []
