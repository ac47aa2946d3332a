"""Connecting to the Docker engine, and turning its failures into sentences a user can act on."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests

from logtray.stack.errors import LogtrayError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DEFAULT_NPIPE = "npipe:////./pipe/docker_engine"
ROOTFUL_PODMAN_SOCKET = "unix:///run/podman/podman.sock"


class DockerUnavailable(LogtrayError):
    """Docker is not installed, not running, or not ours to use."""


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def context_host(
    environ: Mapping[str, str], read_text: Callable[[Path], str | None] = _read_text
) -> str | None:
    """The endpoint of the active docker context, or None for the default one.

    docker-py ignores contexts, but Docker Desktop, OrbStack and Colima select their socket
    through one (DOCKER_CONTEXT, else `currentContext` in the CLI's config.json).
    """
    config_dir = Path(environ.get("DOCKER_CONFIG") or Path(environ.get("HOME", "~")) / ".docker")
    name = environ.get("DOCKER_CONTEXT")
    if not name:
        raw = read_text(config_dir / "config.json")
        if raw:
            try:
                name = json.loads(raw).get("currentContext")
            except (ValueError, AttributeError):
                name = None
    if not name or name == "default":
        return None
    meta_dir = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    raw = read_text(meta_dir / "meta.json")
    if not raw:
        return None
    try:
        host = json.loads(raw)["Endpoints"]["docker"]["Host"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(host) if host else None


def podman_sockets(
    environ: Mapping[str, str], platform: str = sys.platform, uid: int | None = None
) -> list[str]:
    """Where Podman's Docker-compatible API listens when its service runs, most likely first.

    Linux: the user's (rootless) socket, then the system's (rootful). macOS: the socket
    `podman machine start` forwards (its path moved between Podman 4 and 5). Windows: the
    machine's named pipe.
    """
    if platform.startswith("win"):
        return ["npipe:////./pipe/podman-machine-default"]
    home = Path(environ.get("HOME") or Path.home())
    if platform == "darwin":
        machine = home / ".local/share/containers/podman/machine"
        paths = [
            machine / "podman.sock",
            machine / "podman-machine-default/podman.sock",
            machine / "qemu/podman.sock",
        ]
        tmp = environ.get("TMPDIR")
        if tmp:
            paths.append(Path(tmp) / "podman/podman-machine-default-api.sock")
        return [f"unix://{p}" for p in paths]
    runtime = environ.get("XDG_RUNTIME_DIR")
    if not runtime and uid is not None and uid != 0:
        runtime = f"/run/user/{uid}"
    out = [f"unix://{runtime}/podman/podman.sock"] if runtime and uid != 0 else []
    return [*out, ROOTFUL_PODMAN_SOCKET]


@dataclass(frozen=True)
class Endpoint:
    """The engine endpoint logtray talks to, and why that one."""

    host: str
    source: str  # "DOCKER_HOST", "docker context", "Docker's socket", "Podman's socket", "default"


def _socket_exists(host: str) -> bool:
    if host.startswith("npipe://"):
        return Path(host[len("npipe:") :].replace("/", "\\")).exists()
    return host.startswith("unix://") and Path(host[len("unix://") :]).exists()


def choose_endpoint(
    environ: Mapping[str, str],
    *,
    exists: Callable[[str], bool] = _socket_exists,
    read_text: Callable[[Path], str | None] = _read_text,
    platform: str = sys.platform,
    uid: int | None = None,
) -> Endpoint:
    """DOCKER_HOST, else the active docker context, else Docker's own socket when it is there,
    else the first Podman socket that is there, else Docker's socket (to explain its absence)."""
    if environ.get("DOCKER_HOST"):
        return Endpoint(environ["DOCKER_HOST"], "DOCKER_HOST")
    context = context_host(environ, read_text)
    if context:
        return Endpoint(context, "docker context")
    default = DEFAULT_NPIPE if platform.startswith("win") else DEFAULT_SOCKET
    if exists(default):
        return Endpoint(default, "Docker's socket")
    for host in podman_sockets(environ, platform, _uid() if uid is None else uid):
        if exists(host):
            return Endpoint(host, "Podman's socket")
    return Endpoint(default, "default")


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid is not None else None


def docker_host(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return choose_endpoint(environ).host


def podman_stopped(
    host: str,
    *,
    podman_installed: bool,
    docker_installed: bool,
    podman_socket: str,
    platform: str = sys.platform,
) -> DockerUnavailable | None:
    """Podman is what this machine has, but its API service does not answer at `host` (pure):
    one sentence and the command that starts it. None when that is not the case."""
    on_podman = "podman" in host
    if not podman_installed or (docker_installed and not on_podman):
        return None
    if platform == "darwin" or platform.startswith("win"):
        return DockerUnavailable(
            "Podman's machine is not running (no Podman API to talk to)",
            fix="`podman machine start` (or start it in Podman Desktop)",
        )
    target = host if on_podman else podman_socket
    path = target[len("unix://") :] if target.startswith("unix://") else target
    if path.startswith("/run/podman/"):
        fix = (
            "`sudo systemctl enable --now podman.socket` (or point DOCKER_HOST at your own "
            "Podman's socket after `systemctl --user enable --now podman.socket`)"
        )
    else:
        fix = (
            "`systemctl --user enable --now podman.socket` (without systemd: "
            f"`podman system service --time=0 unix://{path} &`)"
        )
    return DockerUnavailable(f"Podman's API service is not running (no answer at {path})", fix=fix)


def explain_connect_error(host: str, exc: BaseException) -> DockerUnavailable:
    """Classify a failure to reach the engine: not installed, not running, no permission."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    if any(isinstance(e, PermissionError) for e in chain) or "Permission denied" in text:
        return DockerUnavailable(
            f"permission denied on the Docker socket ({host})",
            fix="add yourself to the docker group (`sudo usermod -aG docker $USER`, then log out "
            "and in again), or use rootless Docker / Docker Desktop",
        )
    socket_path = host[len("unix://") :] if host.startswith("unix://") else None
    installed = bool(shutil.which("docker") or shutil.which("dockerd"))
    podman = podman_stopped(
        host,
        podman_installed=bool(shutil.which("podman")),
        docker_installed=installed,
        podman_socket=podman_sockets(os.environ, uid=_uid())[0],
    )
    if podman is not None:
        return podman
    if socket_path and not Path(socket_path).exists() and not installed:
        return DockerUnavailable(
            f"Docker is not installed (no docker command, no socket at {socket_path})",
            fix="install Docker Engine (Linux: your distribution's docker.io package) or "
            "Docker Desktop / OrbStack / Colima",
        )
    return DockerUnavailable(
        f"Docker is not running (cannot reach {host})",
        fix="start it (`sudo systemctl start docker`, or open Docker Desktop), "
        "or point DOCKER_HOST / `docker context use` at a running engine",
    )


def connect(environ: Mapping[str, str] | None = None, timeout: int = 120) -> docker.DockerClient:
    """A client for the engine the user's environment selects; fails with a clear sentence."""
    environ = os.environ if environ is None else environ
    host = choose_endpoint(environ).host
    try:
        if environ.get("DOCKER_HOST"):
            # from_env also honours DOCKER_TLS_VERIFY / DOCKER_CERT_PATH.
            client = docker.from_env(environment=dict(environ), timeout=timeout)
        else:
            client = docker.DockerClient(base_url=host, timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise explain_connect_error(host, exc) from None
    return client
