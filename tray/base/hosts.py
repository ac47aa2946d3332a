"""Which addresses the listener binds by default.

Loopback always. On Linux, also the container bridges' own addresses on this host: docker0
(172.17.0.1 by default: what `host.docker.internal` resolves to with `host-gateway`) and
Podman's default bridge (podman0 with netavark, cni-podman0 with CNI: what logtray maps
`host.docker.internal` to on Podman, see stack/alert_route.py). So containers (Riemann) can
reach us without the listener being open to the whole network.
"""

from __future__ import annotations

import socket
import struct
import sys

LOOPBACK = "127.0.0.1"
DOCKER_BRIDGE_INTERFACE = "docker0"
# The same bridges, in the same order, as stack/alert_route.py's BRIDGES.
BRIDGE_INTERFACES = ("podman0", "cni-podman0", DOCKER_BRIDGE_INTERFACE)
SIOCGIFADDR = 0x8915  # Linux: an interface's (first) IPv4 address, in a struct ifreq


def bridge_address(interface: str) -> str | None:
    """The IPv4 address of a bridge interface on this host, if there is one."""
    if not sys.platform.startswith("linux"):
        return None  # Docker Desktop maps host.docker.internal to the host's loopback
    # Asked of the kernel directly (SIOCGIFADDR), not through psutil: the tray asks at every
    # start, and psutil is otherwise not loaded until a port is taken.
    import fcntl

    request = struct.pack("256s", interface.encode()[:15])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
    except OSError:  # no such interface, or it has no IPv4 address
        return None
    return socket.inet_ntoa(answer[20:24])


def docker_bridge_gateway() -> str | None:
    """The IPv4 address of the docker0 bridge on this host, if there is one."""
    return bridge_address(DOCKER_BRIDGE_INTERFACE)


def default_hosts(configured: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(hosts that must bind, hosts that may fail with a warning)."""
    if configured:
        return list(configured), []
    bridges = [bridge_address(name) for name in BRIDGE_INTERFACES]
    return [LOOPBACK], [b for b in dict.fromkeys(bridges) if b]
