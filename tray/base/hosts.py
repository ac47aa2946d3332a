"""Which addresses the listener binds by default.

Loopback always. On Linux, also the Docker bridge gateway (docker0, 172.17.0.1 by default):
it is what `host.docker.internal` resolves to with `host-gateway`, so containers (Riemann)
can reach us without the listener being open to the whole network.
"""

from __future__ import annotations

import socket
import sys

import psutil

LOOPBACK = "127.0.0.1"
DOCKER_BRIDGE_INTERFACE = "docker0"


def docker_bridge_gateway() -> str | None:
    """The IPv4 address of the docker0 bridge on this host, if there is one."""
    if not sys.platform.startswith("linux"):
        return None  # Docker Desktop maps host.docker.internal to the host's loopback
    try:
        addresses = psutil.net_if_addrs().get(DOCKER_BRIDGE_INTERFACE, [])
    except OSError:
        return None
    for address in addresses:
        if address.family == socket.AF_INET:
            return str(address.address)
    return None


def default_hosts(configured: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(hosts that must bind, hosts that may fail with a warning)."""
    if configured:
        return list(configured), []
    gateway = docker_bridge_gateway()
    return [LOOPBACK], [gateway] if gateway else []
