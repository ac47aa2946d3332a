"""The stack's network and named volumes: created when missing (refusing a network logtray did
not create), and removed again when a failed `up` rolls back what it created."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from logtray.stack.containers import stop_remove
from logtray.stack.failures import StackError, api_message
from logtray.stack.labels import owned_labels, stack_filter
from logtray.stack.specs import ServiceSpec

log = logging.getLogger(__name__)


def ensure_network(client: docker.DockerClient, stack_name: str) -> bool:
    """Create the stack's network unless it exists; True when it was created."""
    if client.networks.list(names=[stack_name], filters=stack_filter(stack_name)):
        return False
    if client.networks.list(names=[stack_name]):
        others = [n for n in client.networks.list(names=[stack_name]) if n.name == stack_name]
        if others:
            raise StackError(
                f"a Docker network named {stack_name!r} exists that logtray did not create",
                fix="remove it (`docker network rm`) or set [stack] name to another name",
            )
    for attempt in range(3):
        try:
            client.networks.create(stack_name, driver="bridge", labels=owned_labels(stack_name))
            return True
        except docker.errors.APIError as exc:
            # Podman picks a free subnet by reading the host's routes; an interface removed
            # meanwhile (another container stopping) fails that read once: try again.
            if attempt == 2 or "no such network interface" not in str(exc):
                raise
            log.info("creating network %s: %s; trying again", stack_name, api_message(exc))
            time.sleep(0.2)
    return True  # not reached: the last attempt returns or raises


def ensure_volumes(
    client: docker.DockerClient,
    stack_name: str,
    specs: Sequence[ServiceSpec],
    volume_name: Callable[[str], str],
) -> list[str]:
    """Create the services' named volumes that are missing; the names of those created."""
    created: list[str] = []
    for s in specs:
        for suffix in s.volumes:
            vname = volume_name(suffix)
            try:
                client.volumes.get(vname)
            except docker.errors.NotFound:
                client.volumes.create(vname, labels=owned_labels(stack_name, s.name))
                created.append(vname)
    return created


def rollback(
    client: docker.DockerClient,
    stack_name: str,
    containers: Callable[[], dict[str, Container]],
    created: list[Container],
    network: bool,
    volumes: list[str],
) -> None:
    """Undo what this `up` created, so a failed start leaves nothing behind."""
    for c in reversed(created):
        stop_remove(c)
    if network and not containers():
        for n in client.networks.list(names=[stack_name], filters=stack_filter(stack_name)):
            quietly(n.remove)
    for vname in volumes:
        quietly(functools.partial(_remove_volume, client, vname))


def _remove_volume(client: docker.DockerClient, name: str) -> None:
    client.volumes.get(name).remove()


def quietly(action: Callable[[], Any]) -> None:
    """Run one cleanup step: gone is fine, another failure is logged, not raised."""
    try:
        action()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        log.warning("cleanup step failed: %s", api_message(exc))
