"""Connecting to the Docker engine, and turning its failures into sentences a user can act on."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import docker
import docker.errors
import requests

from logtray.stack.errors import LogtrayError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


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


def docker_host(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("DOCKER_HOST") or context_host(environ) or DEFAULT_SOCKET


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
    host = docker_host(environ)
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
