"""The container engines the engine tests run against.

Docker Engine always; Podman rootful and rootless where their API sockets answer (CI starts
both: .ci/podman-setup.sh). LOGTRAY_TEST_ENGINES narrows or names them: a comma-separated list
of `docker`, `podman`, `podman-rootless`, or `NAME=unix:///path.sock`. Under CI=true every
engine that list names (by default all three) must answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests

PODMAN_USER = "logtray-podman"


def _rootless_socket() -> str:
    try:
        import pwd

        uid = pwd.getpwnam(PODMAN_USER).pw_uid
    except (ImportError, KeyError):
        uid = os.getuid()
    return f"unix:///run/user/{uid}/podman/podman.sock"


@dataclass(frozen=True)
class EngineUnderTest:
    name: str
    host: str

    @property
    def podman(self) -> bool:
        return self.name.startswith("podman")


def known_engines() -> dict[str, str]:
    return {
        "docker": os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock",
        "podman": "unix:///run/podman/podman.sock",
        "podman-rootless": _rootless_socket(),
    }


def chosen_engines() -> list[EngineUnderTest]:
    raw = os.environ.get("LOGTRAY_TEST_ENGINES", "").strip()
    known = known_engines()
    if not raw:
        ci = os.environ.get("CI", "").lower() == "true"
        names = [n for n in known if ci or n == "docker" or _socket_there(known[n])]
        return [EngineUnderTest(n, known[n]) for n in names]
    out = []
    for item in raw.split(","):
        name, _, host = item.strip().partition("=")
        if name:
            out.append(EngineUnderTest(name, host or known.get(name, "")))
    return out


def _socket_there(host: str) -> bool:
    return host.startswith("unix://") and Path(host[len("unix://") :]).exists()


def ping(host: str) -> bool:
    try:
        client = docker.DockerClient(base_url=host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False
