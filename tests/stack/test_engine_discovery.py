"""Finding the engine the way users have it (DOCKER_HOST, the docker context, Docker's socket,
then Podman's sockets), naming it, and saying how to start a stopped Podman.

The choice and the sentences are pure; the last tests ask the real Podman sockets CI starts
(.ci/podman-setup.sh) and run `logtray doctor` against them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from logtray.stack import engine
from logtray.stack.engine_info import identify, inspect_engine
from tests.stack.engines import chosen_engines, ping

# -- the choice (pure) ---------------------------------------------------------------------


def choose(env: dict[str, str], present: set[str], platform: str = "linux", uid: int = 1000) -> str:
    return engine.choose_endpoint(
        env, exists=present.__contains__, read_text=lambda p: None, platform=platform, uid=uid
    ).host


ROOTLESS = "unix:///run/user/1000/podman/podman.sock"
ROOTFUL = "unix:///run/podman/podman.sock"


def test_docker_host_then_context_then_docker_then_podman() -> None:
    everything = {engine.DEFAULT_SOCKET, ROOTLESS, ROOTFUL}
    assert choose({"DOCKER_HOST": "tcp://1.2.3.4:2375"}, everything) == "tcp://1.2.3.4:2375"
    assert choose({}, everything) == engine.DEFAULT_SOCKET
    # No Docker socket: the user's own Podman first, then the system's.
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert choose(env, {ROOTLESS, ROOTFUL}) == ROOTLESS
    assert choose(env, {ROOTFUL}) == ROOTFUL
    # Without XDG_RUNTIME_DIR the rootless socket is looked for where systemd puts it.
    assert choose({}, {ROOTLESS}, uid=1000) == ROOTLESS
    # root has no rootless socket of its own.
    assert choose({}, {ROOTLESS, ROOTFUL}, uid=0) == ROOTFUL
    # Nothing there: Docker's socket, so that the error names what is missing.
    assert choose(env, set()) == engine.DEFAULT_SOCKET


def test_the_docker_context_wins_over_sockets(tmp_path: Path) -> None:
    name = "podman-machine"
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Endpoints": {"docker": {"Host": "unix:///x"}}}))
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": name}
    found = engine.choose_endpoint(env, exists=lambda h: True, platform="linux", uid=1000)
    assert (found.host, found.source) == ("unix:///x", "docker context")


def test_podman_machine_sockets_on_macos_and_windows() -> None:
    mac = engine.podman_sockets({"HOME": "/Users/me", "TMPDIR": "/var/folders/t/T/"}, "darwin")
    assert mac[0] == "unix:///Users/me/.local/share/containers/podman/machine/podman.sock"
    assert "unix:///var/folders/t/T/podman/podman-machine-default-api.sock" in mac
    machine = "unix:///Users/me/.local/share/containers/podman/machine/qemu/podman.sock"
    assert choose({"HOME": "/Users/me"}, {machine}, platform="darwin") == machine
    assert engine.podman_sockets({}, "win32") == ["npipe:////./pipe/podman-machine-default"]


# -- a stopped Podman: one sentence and the command (pure) --------------------------------


def test_a_stopped_podman_says_the_command_that_starts_it() -> None:
    err = engine.podman_stopped(
        engine.DEFAULT_SOCKET,
        podman_installed=True,
        docker_installed=False,
        podman_socket=ROOTLESS,
        platform="linux",
    )
    assert err is not None
    assert err.message == (
        "Podman's API service is not running (no answer at /run/user/1000/podman/podman.sock)"
    )
    assert err.fix is not None and err.fix.startswith(
        "`systemctl --user enable --now podman.socket`"
    )
    rootful = engine.podman_stopped(
        ROOTFUL, podman_installed=True, docker_installed=True, podman_socket=ROOTLESS
    )
    assert rootful is not None and rootful.fix is not None
    assert "sudo systemctl enable --now podman.socket" in rootful.fix
    mac = engine.podman_stopped(
        engine.DEFAULT_SOCKET,
        podman_installed=True,
        docker_installed=False,
        podman_socket=ROOTLESS,
        platform="darwin",
    )
    assert mac is not None and mac.fix is not None and "podman machine start" in mac.fix
    # Docker users with podman installed too are told about Docker, not Podman.
    assert (
        engine.podman_stopped(
            engine.DEFAULT_SOCKET, podman_installed=True, docker_installed=True, podman_socket=""
        )
        is None
    )
    assert (
        engine.podman_stopped(
            ROOTLESS, podman_installed=False, docker_installed=True, podman_socket=""
        )
        is None
    )


# -- naming the engine (pure) ---------------------------------------------------------------

PODMAN_VERSION = {
    "Version": "4.3.1",
    "ApiVersion": "1.41",
    "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}],
}


def test_identify() -> None:
    podman = identify(PODMAN_VERSION, {"OperatingSystem": "debian"}, ROOTLESS, True)
    assert podman.describe() == f"Podman 4.3.1, rootless, socket {ROOTLESS}"
    assert podman.kind == "podman-rootless" and not podman.runs_healthchecks
    assert identify(PODMAN_VERSION, {}, ROOTFUL, False).kind == "podman"
    docker_v = {"Version": "20.10.24", "Components": [{"Name": "Engine"}]}
    plain = identify(docker_v, {"OperatingSystem": "Debian GNU/Linux 12"}, engine.DEFAULT_SOCKET)
    assert plain.describe() == f"Docker Engine 20.10.24, rootful, socket {engine.DEFAULT_SOCKET}"
    assert plain.kind == "engine" and plain.runs_healthchecks
    rootless = identify(docker_v, {"SecurityOptions": ["name=rootless"]}, "unix:///run/user/1/d")
    assert rootless.kind == "rootless"
    assert (
        identify(docker_v, {"OperatingSystem": "Docker Desktop"}, "x").product == "Docker Desktop"
    )
    assert identify(docker_v, {"OperatingSystem": "OrbStack"}, "x").product == "OrbStack"
    assert identify(docker_v, {"Name": "colima"}, "x").kind == "colima"


# -- the real engines -----------------------------------------------------------------------

PODMANS = [e for e in chosen_engines() if e.podman]


def _need(host: str) -> None:
    if not ping(host):
        msg = f"no Podman API at {host} (run .ci/podman-setup.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.docker
@pytest.mark.parametrize("podman", PODMANS, ids=[e.name for e in PODMANS])
def test_the_real_podman_is_found_named_and_doctor_says_it(podman, tmp_path: Path) -> None:
    _need(podman.host)
    rootless = podman.name == "podman-rootless"
    # Found without DOCKER_HOST when Docker's socket is not there.
    runtime = str(Path(podman.host[len("unix://") :]).parent.parent)
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": runtime} if rootless else {}
    found = engine.choose_endpoint(
        env,
        exists=lambda h: h != engine.DEFAULT_SOCKET and engine._socket_exists(h),
        uid=1 if rootless else 0,
    )
    assert found.host == podman.host and found.source == "Podman's socket"
    client = docker.DockerClient(base_url=found.host, timeout=30)
    try:
        info = inspect_engine(client)
    finally:
        client.close()
    assert info.podman and info.rootless is rootless
    mode = "rootless" if rootless else "rootful"
    assert info.describe() == f"Podman {info.version}, {mode}, socket {podman.host}"

    doctor = subprocess.run(
        [sys.executable, "-m", "logtray.tray", "doctor"],
        env={**os.environ, "DOCKER_HOST": podman.host, "LOGTRAY_CONFIG": str(tmp_path / "c.toml")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"ok    engine: Podman {info.version}, {mode}, socket {podman.host}" in doctor.stdout, (
        doctor.stdout + doctor.stderr
    )


def test_a_stopped_podman_service_is_one_sentence_in_doctor(tmp_path: Path) -> None:
    import shutil

    if shutil.which("podman") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("podman is not installed (run .ci/podman-setup.sh)")
        pytest.skip("podman is not installed")
    # The socket path of a user whose Podman service is not running.
    host = f"unix://{tmp_path}/podman/podman.sock"
    doctor = subprocess.run(
        [sys.executable, "-m", "logtray.tray", "doctor"],
        env={**os.environ, "DOCKER_HOST": host, "LOGTRAY_CONFIG": str(tmp_path / "c.toml")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        f"FAIL  engine: Podman's API service is not running (no answer at {tmp_path}/podman/"
        "podman.sock)\n      fix: `systemctl --user enable --now podman.socket`" in doctor.stdout
    ), doctor.stdout + doctor.stderr
