"""One service's container: creating it from its spec, starting or restarting it (and saying
who holds a port it cannot publish), and stopping and removing it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from logtray.stack.failures import PortTaken, StackError, api_message
from logtray.stack.ports import port_holder
from logtray.stack.specs import ServiceSpec
from logtray.stack.status import READY_STATES, ServiceStatus
from logtray.stack.status import from_inspect as status_from_inspect
from logtray.stack.watcher import StatusWatcher, parse_docker_time

STOP_TIMEOUT_S = 10


def create_container(
    client: docker.DockerClient,
    spec: ServiceSpec,
    *,
    name: str,
    image: str,
    network: str,
    labels: dict[str, str],
    volume_name: Callable[[str], str],
) -> Container:
    """Create (not start) the container `name` of `spec` on `network`."""
    hc: dict[str, Any] | None = None
    if spec.healthcheck is not None:
        h = spec.healthcheck
        hc = {
            "test": list(h.test),
            "interval": int(h.interval_s * 1e9),
            "timeout": int(h.timeout_s * 1e9),
            "retries": h.retries,
            "start_period": int(h.start_period_s * 1e9),
        }
    volumes: dict[str, dict[str, str]] = {
        volume_name(suffix): {"bind": path, "mode": "rw"} for suffix, path in spec.volumes.items()
    }
    for src, dst in spec.binds.items():
        volumes[src] = {"bind": dst, "mode": "ro"}
    endpoint = client.api.create_endpoint_config(aliases=[spec.name])
    try:
        return client.containers.create(
            image,
            command=list(spec.command) if spec.command is not None else None,
            name=name,
            hostname=spec.name,
            environment=dict(spec.env),
            labels=labels,
            init=True,
            mem_limit=spec.mem_limit,
            # types-docker lacks the (host,) form Docker takes for "any free port there".
            ports=port_bindings(spec),  # type: ignore[arg-type]
            healthcheck=hc,
            network=network,
            networking_config={network: endpoint},
            volumes=volumes,
            extra_hosts=dict(spec.extra_hosts),
            detach=True,
        )
    except docker.errors.ImageNotFound:
        raise StackError(f"image {spec.image} for {spec.name} disappeared") from None
    except docker.errors.APIError as exc:
        # Docker: 409; Podman: 500 "... is already in use".
        if exc.status_code == 409 or (
            "name" in api_message(exc) and "already in use" in api_message(exc)
        ):
            raise StackError(
                f"a container named {name} exists that logtray did not create",
                fix=f"remove it (`docker rm -f {name}`) or set [stack] name to another name",
            ) from None
        raise _no_init(api_message(exc)) or StackError(
            f"cannot create {name}: {api_message(exc)}"
        ) from None


def port_bindings(spec: ServiceSpec) -> dict[str, tuple[str, int] | tuple[str]]:
    """Docker's `ports` argument: each port on 127.0.0.1, unless the spec names another host
    address for it (the team profile's listener); (host,) is any free port there."""
    out: dict[str, tuple[str, int] | tuple[str]] = {}
    for port, host_port in spec.ports.items():
        host = spec.port_hosts.get(port, "127.0.0.1")
        out[port] = (host, host_port) if host_port else (host,)
    return out


def _no_init(text: str) -> StackError | None:
    """Podman gives `init: true` containers catatonit as PID 1; Debian's podman only recommends
    the package, so it can be missing."""
    if "catatonit" not in text and "container-init binary not found" not in text:
        return None
    return StackError(
        "the container engine cannot start the stack's containers with an init process: "
        "catatonit is not installed",
        fix="install it (Debian/Ubuntu: `sudo apt install catatonit`, Fedora: `sudo dnf install "
        "catatonit`), then `logtray stack up` again",
    )


def start_container(
    client: docker.DockerClient, spec: ServiceSpec, container: Container, watcher: StatusWatcher
) -> bool:
    """Start the container unless it runs; True when it was started (or restarted)."""
    container.reload()
    state = status_from_inspect(container.attrs)
    running = container.attrs["State"].get("Status") == "running"
    if state.state in READY_STATES or (state.state == "starting" and running):
        return False
    for attempt in range(3):
        try:
            if state.state == "unhealthy":
                container.restart(timeout=STOP_TIMEOUT_S)
            else:
                container.start()
            break
        except docker.errors.APIError as exc:
            if attempt < 2 and _lost_port_race(spec, api_message(exc)):
                continue
            _raise_start_error(client, spec, container, exc)
    container.reload()
    started = parse_docker_time(container.attrs["State"].get("StartedAt", ""))
    status = status_from_inspect(container.attrs)
    if status.state == "running" and spec.healthcheck is not None:
        status = ServiceStatus("starting")
    watcher.mark(spec.name, status, container.id or "", started)
    return True


def restart_container(spec: ServiceSpec, container: Container, watcher: StatusWatcher) -> None:
    container.restart(timeout=STOP_TIMEOUT_S)
    container.reload()
    started = parse_docker_time(container.attrs["State"].get("StartedAt", ""))
    status = (
        ServiceStatus("starting")
        if spec.healthcheck is not None
        else status_from_inspect(container.attrs)
    )
    watcher.mark(spec.name, status, container.id or "", started)


def _lost_port_race(spec: ServiceSpec, text: str) -> bool:
    """A port the engine chose itself (host port 0) was taken when it bound it: rootless Podman
    picks a free port, then binds it later, and parallel starts can pick the same one. Starting
    again picks another."""
    if "address already in use" not in text or 0 not in spec.ports.values():
        return False
    m = re.search(r"(?:127\.0\.0\.1|0\.0\.0\.0|\[::\]|::):(\d+)", text)
    return m is None or int(m.group(1)) not in spec.ports.values()


def _raise_start_error(
    client: docker.DockerClient,
    spec: ServiceSpec,
    container: Container,
    exc: docker.errors.APIError,
) -> None:
    text = api_message(exc)
    m = re.search(r"(\d+\.\d+\.\d+\.\d+|\[::\]|::):(\d+)", text)
    taken = "address already in use" in text or "port is already allocated" in text
    # A container that never started is useless: do not leave it behind.
    stop_remove(container)
    if "cannot assign requested address" in text:
        address = m.group(1) if m else "the configured address"
        raise StackError(
            f"{spec.name} cannot publish on {address}: no interface of this machine has it",
            fix="set [stack] team_bind to one of this machine's addresses "
            "(`ip -brief address` lists them)",
        ) from None
    if taken:
        port = int(m.group(2)) if m else 0
        holder = port_holder(port) if port else None
        if holder and "docker-proxy" in holder:
            holder = _container_publishing(client, port) or holder
        who = f", held by {holder}" if holder else ""
        # (A port picked for "any free port" just before the create: that port's key is 0.)
        cport = next((p for p, h in spec.ports.items() if h == port), None) or next(
            (p for p, h in spec.ports.items() if h == 0), "?"
        )
        raise PortTaken(
            f"{spec.name} cannot publish {m.group(1) if m else '127.0.0.1'}:{port or '?'}: "
            f"the port is already in use{who}",
            fix=f"stop what holds it, or map {spec.name}'s {cport} elsewhere: "
            f'[stack.services.{spec.name}.ports] "{cport.split("/")[0]}" = <free port>',
        ) from None
    raise _no_init(text) or StackError(f"cannot start {spec.name}: {text}") from None


def _container_publishing(client: docker.DockerClient, port: int) -> str | None:
    for c in client.containers.list(ignore_removed=True):
        for bindings in (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
            for b in bindings or []:
                if str(b.get("HostPort")) == str(port):
                    return f"container {c.name}"
    return None


def stop_remove(container: Container) -> None:
    """Stop (gracefully, within STOP_TIMEOUT_S) and remove one container; gone is fine."""
    try:
        container.reload()
        if container.attrs["State"].get("Running"):
            container.stop(timeout=STOP_TIMEOUT_S)
        # v: with its anonymous volumes (apache/kafka declares two); named ones are kept.
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Someone else (a concurrent `down`) is already removing it: gone is fine.
        if exc.status_code != 409 or "already in progress" not in api_message(exc):
            raise
