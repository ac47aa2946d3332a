"""A container's log lines: the last ones (of its current run), and `stack logs` (falling back
to the lines saved when a service failed to start and its container is gone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker.errors
from docker.models.containers import Container

from logtray.stack.failures import StackError
from logtray.stack.saved_logs import SavedLogs
from logtray.stack.watcher import parse_docker_time

# How many last log lines an error shows.
LOG_TAIL = 30


def log_tail(container: Container, lines: int = LOG_TAIL, since_start: bool = False) -> list[str]:
    """The last log lines; with since_start, only those of the container's current run."""
    kwargs: dict[str, Any] = {"tail": lines}
    if since_start:
        # Lines after the previous run ended (FinishedAt stays set while the container runs
        # again; zero for a first run: every line is this run's). Not `since` StartedAt:
        # a process can log before the engine records its start, and whole seconds would
        # return the previous run's last lines after a quick restart.
        finished = parse_docker_time(container.attrs["State"].get("FinishedAt", ""))
        started = parse_docker_time(container.attrs["State"].get("StartedAt", ""))
        if finished and finished < started:
            kwargs["since"] = (finished + 1000) / 1_000_000_000
    try:
        raw = container.logs(**kwargs)
    except docker.errors.APIError:
        return []
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return [ln for ln in text.splitlines() if ln.strip()]


def logs(
    container: Container | None,
    saved_logs: SavedLogs,
    stack_name: str,
    service: str,
    follow: bool = False,
    tail: int = 100,
) -> Iterator[bytes]:
    """A service's logs; its saved lines when it has no container (it failed to start, or
    stopped unexpectedly and was removed), and the lines saved when it stopped unexpectedly
    before those of a newer container (a Repair replaced it)."""
    if container is None:
        saved = saved_logs.read(service, tail) or saved_logs.read(service, tail, incident=True)
        if saved is not None:
            yield saved
            return
        raise StackError(
            f"{service} is not running in stack {stack_name!r}",
            fix="`logtray stack status` lists the services",
        )
    earlier = _incident_before(container, saved_logs, service, tail)
    if earlier is not None:
        yield earlier + b"# logtray: its current container's log follows\n"
    if follow:
        yield from container.logs(stream=True, follow=True, tail=tail)
    else:
        yield container.logs(tail=tail)


def _incident_before(
    container: Container, saved_logs: SavedLogs, service: str, tail: int
) -> bytes | None:
    """The lines saved when the service stopped unexpectedly, when its current container is
    newer (so its own log does not hold them)."""
    saved_at = saved_logs.saved_at(service, incident=True)
    if saved_at is None:
        return None
    created = parse_docker_time(str(container.attrs.get("Created", ""))) / 1e9
    if not created or created <= saved_at:
        return None
    return saved_logs.read(service, tail, incident=True)
