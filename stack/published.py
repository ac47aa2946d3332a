"""Where a stack's service is published on this machine, read from the container engine's
port mapping: the port the container really got (the one configured, or the free one picked
for `0`), for the host's clients of the stack (the tray's engine and heartbeat, doctor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker

from logtray.stack.labels import LABEL_SERVICE, stack_filter


def host_port(attrs: Mapping[str, Any], cport: str) -> int | None:
    """The host port `cport` ("9094/tcp") is published on, from a container's inspect data;
    None when it is not published (or the container does not run: no mapping then)."""
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(cport) or []:
        try:
            port = int((binding or {}).get("HostPort") or 0)
        except (TypeError, ValueError):
            continue
        if 0 < port < 65536:
            return port
    return None


def published_port(
    client: docker.DockerClient, stack_name: str, service: str, cport: str
) -> int | None:
    """Where the stack's running `service` container publishes `cport`: one list call (by the
    stack's label), no specs needed. None when no such container runs."""
    for container in client.containers.list(filters=stack_filter(stack_name), ignore_removed=True):
        if (container.labels or {}).get(LABEL_SERVICE) == service:
            return host_port(container.attrs, cport)
    return None
