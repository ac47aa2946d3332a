"""Where Riemann sends alerts: the host address its `host.docker.internal` means, per engine.

Docker Engine (20.10+) and Docker Desktop map it with `host-gateway` (the docker0 address on
Linux, which logtray's listener binds). Podman 4 has no `host-gateway` (it would write the word
itself into /etc/hosts); it names the host `host.containers.internal` instead, which is the
stack network's gateway (rootful) or the machine's address on its network (rootless) — neither
an address logtray binds by default. So on Podman the name is mapped to a bridge address of
this machine that the listener does bind (Podman's own bridge, else docker0): containers reach
any of the host's addresses (rootful: routed to the host; rootless: slirp4netns connects from
the host), and the listener stays off the network. With no such bridge, Podman's own name is
used and the canary says what to bind.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping

from logtray.stack.engine_info import EngineInfo
from logtray.stack.specs import ServiceSpec

HOST_GATEWAY = "host-gateway"
DOCKER_HOST_NAME = "host.docker.internal"
PODMAN_HOST_NAME = "host.containers.internal"
# Podman's default bridge (netavark: podman0, CNI: cni-podman0), then Docker's.
BRIDGES = ("podman0", "cni-podman0", "docker0")


def bridge_addresses() -> dict[str, str]:
    """interface -> IPv4 address, for the bridges in BRIDGES this machine has."""
    import psutil  # at `up`, not when the tray imports the stack manager at start

    try:
        interfaces = psutil.net_if_addrs()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for name in BRIDGES:
        for address in interfaces.get(name, []):
            if address.family == socket.AF_INET:
                out[name] = str(address.address)
                break
    return out


def alert_address(engine: EngineInfo | None, bridges: Mapping[str, str]) -> str | None:
    """What `host.docker.internal` maps to: "host-gateway" for Docker, a bridge address for
    Podman, None when Podman has no bridge here (then its own name is used). Pure."""
    if engine is None or not engine.podman:
        return HOST_GATEWAY
    for name in BRIDGES:
        if bridges.get(name):
            return bridges[name]
    return None


def adapt(spec: ServiceSpec, address: str | None) -> ServiceSpec:
    """The spec with `host-gateway` replaced by `address`; with no address, without that
    mapping and pointed at Podman's own name for the host. Pure."""
    if address == HOST_GATEWAY or HOST_GATEWAY not in spec.extra_hosts.values():
        return spec
    if address is not None:
        hosts = {h: address if v == HOST_GATEWAY else v for h, v in spec.extra_hosts.items()}
        return dataclasses.replace(spec, extra_hosts=hosts)
    hosts = {h: v for h, v in spec.extra_hosts.items() if v != HOST_GATEWAY}
    env = dict(spec.env)
    if env.get("ALERT_HOST") == DOCKER_HOST_NAME:
        env["ALERT_HOST"] = PODMAN_HOST_NAME
    return dataclasses.replace(spec, extra_hosts=hosts, env=env)
