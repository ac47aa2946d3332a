"""The one app state the tray shows: the icon and the menu are pure functions of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from logtray.tray.base.text import shown_text

if TYPE_CHECKING:
    from logtray.tray.alerts.alert import Alert

# What the stack as a whole is doing, as the icon shows it.
Phase = Literal["unavailable", "stopped", "starting", "healthy", "degraded", "stopping"]
IconKind = Literal["stopped", "starting", "healthy", "degraded", "problem", "snoozed"]

BAD_SERVICE_STATES = frozenset({"unhealthy", "exited"})
GOOD_SERVICE_STATES = frozenset({"healthy", "running"})


@dataclass(frozen=True)
class ServiceView:
    name: str
    state: str  # absent | pulling | starting | running | healthy | unhealthy | exited
    text: str  # e.g. "pulling 42%", "exited (1)"


@dataclass(frozen=True)
class ShippingView:
    """One container whose output is shipped into program-logs ([ship])."""

    name: str
    service: str
    following: bool
    shipped: int
    dropped: int


@dataclass(frozen=True)
class RecentAlert:
    received: float
    title: str
    count: int
    url: str | None
    needs_kibana: bool = True  # a link into the stack's Kibana (not the alert's own `url`)
    # The alert itself: without Kibana (stopped, or the lite profile) the entry opens its
    # built-in error view instead.
    alert: Alert | None = field(default=None, compare=False, repr=False)
    # Read on start from what was missed (told in the "while you were away" summary).
    caught_up: bool = False


@dataclass(frozen=True)
class AppState:
    phase: Phase = "stopped"
    profile: str = "full"
    services: tuple[ServiceView, ...] = ()
    docker_problem: str | None = None  # why Start is disabled
    progress: str | None = None  # "pulling kafka 42%", "starting kibana"
    last_error: str | None = None  # the menu's short line for a failed start/stop/repair
    # One short line per stack service that failed while the tray watched (stack/incidents.py)
    incidents: tuple[str, ...] = ()
    # Elasticsearch refuses writes behind its read-only block: the menu offers to clear it.
    es_unblock: bool = False
    recent: tuple[RecentAlert, ...] = ()
    unseen: int = 0
    alerts_today: int = 0
    snoozed_until: float | None = None
    do_not_disturb: bool = False
    autostart: bool = False
    listening: str = ""  # "127.0.0.1:10000"
    notices: tuple[str, ...] = field(default_factory=tuple)  # problems shown atop the menu
    # The heartbeat's line ("alerts: proven 40 s ago, 180 ms end to end"), and whether two
    # heartbeats went unanswered (a problem: the icon says so).
    alerts_proof: str | None = None
    alerts_unproven: bool = False
    # The containers whose output is shipped, and the shipper's problem (one sentence).
    shipping: tuple[ShippingView, ...] = ()
    shipping_problem: str | None = None


def phase_from_services(services: tuple[ServiceView, ...], busy: bool) -> Phase:
    """Healthy when all run; degraded when any failed; starting while we are bringing it up."""
    if busy:
        return "starting"
    present = [s for s in services if s.state != "absent"]
    if not present:
        return "stopped"
    if any(s.state in BAD_SERVICE_STATES for s in present):
        return "degraded"
    if len(present) == len(services) and all(s.state in GOOD_SERVICE_STATES for s in present):
        return "healthy"
    if all(s.state in GOOD_SERVICE_STATES for s in present):
        return "degraded"  # some services are missing
    return "starting"


def kibana_ready(state: AppState) -> bool:
    """Kibana answers: the stack's kibana service is up (the full profile only)."""
    return any(s.name == "kibana" and s.state in GOOD_SERVICE_STATES for s in state.services)


def has_problem(state: AppState) -> bool:
    """Something failed that the user should act on: Docker is away, an action failed, a
    stack service exited, was OOM-killed, turned unhealthy or restarts in a loop, or the alert
    path is not proven."""
    return (
        state.phase == "unavailable"
        or state.last_error is not None
        or bool(state.incidents)
        or state.alerts_unproven
    )


def icon_kind(state: AppState) -> IconKind:
    if state.do_not_disturb or state.snoozed_until is not None:
        return "snoozed"  # the user's own latest choice; the menu still says the problem
    if has_problem(state) and state.phase not in ("starting", "stopping"):
        return "problem"
    if state.phase in ("starting", "stopping"):
        return "starting"
    if state.phase == "healthy":
        return "healthy"
    if state.phase == "degraded":
        return "degraded"
    return "stopped"


def tooltip(state: AppState, now: float | None = None) -> str:
    """One line: '5/5 healthy · 3 alerts today'."""
    parts = []
    if state.phase == "unavailable":
        parts.append("Docker unavailable")
    elif state.services:
        good = sum(s.state in GOOD_SERVICE_STATES for s in state.services)
        if state.phase in ("starting", "stopping") and state.progress:
            parts.append(state.progress)
        elif state.phase == "stopped":
            parts.append("stack stopped")
        else:
            parts.append(f"{good}/{len(state.services)} healthy")
    else:
        parts.append("stack stopped")
    if state.last_error:
        parts.append(state.last_error)  # already one short line
    parts += state.incidents
    noun = "alert" if state.alerts_today == 1 else "alerts"
    parts.append(f"{state.alerts_today} {noun} today")
    if state.do_not_disturb:
        parts.append("do not disturb")
    elif state.snoozed_until is not None:
        until = time.strftime("%H:%M", time.localtime(state.snoozed_until))
        parts.append(f"snoozed until {until}")
    return shown_text("logtray: " + " · ".join(parts))
