"""Which engine logtray talks to: its product, version, mode and endpoint, said in one line.

What differs between engines for the stack (the name containers reach the host by, whether the
engine runs health checks, rootless networking) is decided from this, not guessed per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

PODMAN = "Podman"


@dataclass(frozen=True)
class EngineInfo:
    product: str  # "Docker Engine", "Docker Desktop", "OrbStack", "Colima", "Podman"
    version: str
    rootless: bool
    host: str
    api_version: str = ""

    @property
    def podman(self) -> bool:
        return self.product == PODMAN

    @property
    def runs_healthchecks(self) -> bool:
        """Podman runs health checks from systemd timers: without systemd (WSL, containers,
        CI) a container's health stays "starting" for ever, so logtray probes instead."""
        return not self.podman

    @property
    def kind(self) -> str:
        """The canary's word for where the host is reached from (see canary.diagnose)."""
        if self.product == "Colima":
            return "colima"
        if self.rootless:
            return "podman-rootless" if self.podman else "rootless"
        if self.podman:
            return "podman"
        return "desktop" if self.product in ("Docker Desktop", "OrbStack") else "engine"

    def describe(self) -> str:
        """e.g. "Podman 4.3.1, rootless, socket unix:///run/user/1000/podman/podman.sock"."""
        mode = "rootless" if self.rootless else "rootful"
        where = "socket" if self.host.startswith("unix://") else "endpoint"
        return f"{self.product} {self.version}, {mode}, {where} {self.host}"


def identify(
    version: Mapping[str, Any],
    info: Mapping[str, Any],
    host: str,
    podman_rootless: bool | None = None,
) -> EngineInfo:
    """The engine from its /version and /info answers (and, for Podman, libpod's rootless
    flag, which its Docker-compatible /info does not carry). Pure."""
    components = [str(c.get("Name", "")) for c in version.get("Components") or []]
    number = str(version.get("Version") or info.get("ServerVersion") or "?")
    api = str(version.get("ApiVersion") or "")
    security = " ".join(str(s) for s in info.get("SecurityOptions") or [])
    rootless = "rootless" in security
    if any("Podman" in name for name in components):
        return EngineInfo(PODMAN, number, bool(podman_rootless), host, api)
    system = str(info.get("OperatingSystem", "")).lower()
    if "orbstack" in system or "orbstack" in host:
        product = "OrbStack"
    elif "docker desktop" in system:
        product = "Docker Desktop"
    elif str(info.get("Name", "")).lower().startswith("colima") or "colima" in host:
        product = "Colima"
    else:
        product = "Docker Engine"
    return EngineInfo(product, number, rootless, host, api)


def inspect_engine(client: docker.DockerClient) -> EngineInfo:
    """Ask the engine behind `client` what it is (three small requests)."""
    host = str(client.api.base_url)
    if host.startswith("http+docker://"):
        host = _socket_of(client)
    version = client.version()
    info = client.info()
    rootless: bool | None = None
    if any("Podman" in str(c.get("Name", "")) for c in version.get("Components") or []):
        rootless = podman_rootless(client)
    return identify(version, info, host, rootless)


def _socket_of(client: docker.DockerClient) -> str:
    """The unix socket (or pipe) docker-py's adapter was made for."""
    for adapter in client.api.adapters.values():
        path = getattr(adapter, "socket_path", None)
        if path:
            return f"unix://{path}"
        pipe = getattr(adapter, "npipe_path", None)
        if pipe:
            return f"npipe://{pipe}"
    return str(client.api.base_url)


def podman_rootless(client: docker.DockerClient) -> bool | None:
    """libpod's own /info says whether this Podman runs rootless (the compat API does not)."""
    try:
        resp = client.api.get(client.api.base_url + "/v4.0.0/libpod/info", timeout=10)
        if not resp.ok:
            return None
        data = resp.json()
    except (requests.exceptions.RequestException, ValueError, docker.errors.DockerException):
        return None
    security = (data.get("host") or {}).get("security") or {}
    value = security.get("rootless")
    return value if isinstance(value, bool) else None
