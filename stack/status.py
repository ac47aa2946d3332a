"""Per-service status as data, derived purely from container inspections and Docker events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from logtray.stack.incidents import explain_inspect

State = Literal["absent", "pulling", "starting", "running", "healthy", "unhealthy", "exited"]

# States in which dependents may start (a service without a healthcheck is ready when running).
READY_STATES = frozenset({"healthy", "running"})

# The actions asked of the events stream. Without an `event` filter it is flooded by every
# healthcheck's exec_* events; "health_status" is matched as a prefix by the daemon. "kill"
# tells a stop someone asked for from a crash (stack/incidents.py).
WATCHED_EVENTS = ("create", "start", "die", "destroy", "health_status", "oom", "kill")


@dataclass(frozen=True)
class ServiceStatus:
    state: State
    # pulling: percent done (None until sizes are known); exited: the exit code.
    percent: float | None = None
    exit_code: int | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.state == "pulling":
            return "pulling" if self.percent is None else f"pulling {self.percent:.0f}%"
        if self.state == "exited":
            return f"exited ({self.exit_code})"
        return self.state

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.percent is not None:
            out["percent"] = round(self.percent, 1)
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.detail:
            out["detail"] = self.detail
        return out


ABSENT = ServiceStatus("absent")


def from_inspect(attrs: Mapping[str, Any]) -> ServiceStatus:
    """The status of one container from its inspect data (`container.attrs`)."""
    st = attrs.get("State") or {}
    status = st.get("Status", "")
    if status in ("running", "restarting"):
        health = (st.get("Health") or {}).get("Status")
        if health == "healthy":
            return ServiceStatus("healthy")
        if health == "unhealthy":
            return ServiceStatus("unhealthy", detail=explain_inspect(attrs))
        if health == "starting":
            return ServiceStatus("starting")
        # Restarting: Docker's restart policy brings it back after an exit; say the exit.
        return ServiceStatus("running", detail=explain_inspect(attrs))
    # "stopped": Podman's state between the process's exit and its cleanup.
    if status in ("exited", "dead", "stopped"):
        return ServiceStatus(
            "exited", exit_code=int(st.get("ExitCode", 0)), detail=explain_inspect(attrs)
        )
    if status == "removing":
        return ABSENT
    # created, paused
    return ServiceStatus("starting", detail=status)


def apply_event(
    prev: ServiceStatus, event: Mapping[str, Any], has_healthcheck: bool
) -> ServiceStatus:
    """The status after one container event from the Docker events stream."""
    action = str(event.get("Action") or event.get("status") or "")
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    if action == "create":
        return ServiceStatus("starting", detail="created")
    if action == "start":
        return ServiceStatus("starting" if has_healthcheck else "running")
    if action.startswith("health_status"):
        health = action.partition(":")[2].strip()
        if prev.state == "exited":
            return prev
        if health == "healthy":
            return ServiceStatus("healthy")
        if health == "unhealthy":
            return ServiceStatus("unhealthy")
        return prev
    if action == "die":
        try:
            code = int(attrs.get("exitCode", 0))
        except (TypeError, ValueError):
            code = -1
        return ServiceStatus("exited", exit_code=code)
    if action == "destroy":
        return ABSENT
    if action == "oom":
        return ServiceStatus(prev.state, prev.percent, prev.exit_code, "out of memory")
    return prev
