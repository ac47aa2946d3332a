"""The stack's phase ends where the containers are, whatever order their events come in.

Docker's and Podman's real event sequences (a start, a health verdict, a replaced container, a
crash, a stop), shuffled, repeated and delayed, are fed to the watcher through its events
stream (the true edge: tests/stack/test_watcher.py's queue-fed client); the containers' state
(what StackManager.status reads from the engine) is the truth it reconciles with. After one
reconciliation the statuses, and the tray's phase made from them, are the truth's.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtray.stack.status import ABSENT, ServiceStatus
from logtray.stack.watcher import OnChange, StatusWatcher, Truth
from logtray.tray.desktop.state import ServiceView, phase_from_services
from tests.stack.test_watcher import FakeClient, event, settle

SERVICES = {"kafka": True, "riemann": True, "demo": False}  # name: has a healthcheck


def docker_start(service: str, cid: str, t: int, healthy: bool = True) -> list[dict[str, Any]]:
    out = [event("create", cid, t, service), event("start", cid, t + 1, service)]
    if SERVICES[service] and healthy:
        out.append(event("health_status: healthy", cid, t + 2, service))
    return out


def podman_start(service: str, cid: str, t: int) -> list[dict[str, Any]]:
    # Podman 4 without systemd: no health verdict ever comes; "init" sits between the two.
    return [
        event("create", cid, t, service),
        event("init", cid, t + 1, service),
        event("start", cid, t + 2, service),
    ]


def stop(service: str, cid: str, t: int) -> list[dict[str, Any]]:
    return [
        event("kill", cid, t, service, signal="15"),
        event("die", cid, t + 1, service, exitCode="143"),
        event("destroy", cid, t + 2, service),
    ]


def crash(service: str, cid: str, t: int) -> list[dict[str, Any]]:
    return [event("die", cid, t, service, exitCode="1")]


# One story per service: the events an engine sends for it, and where its container ends.
STORIES = {
    "started on Docker": (lambda s: docker_start(s, f"{s}-1", 100), "ready"),
    "started on Podman": (lambda s: podman_start(s, f"{s}-1", 100), "ready"),
    "replaced": (
        lambda s: [
            *docker_start(s, f"{s}-0", 10),
            *stop(s, f"{s}-0", 50),
            *docker_start(s, f"{s}-1", 100),
        ],
        "ready",
    ),
    "crashed": (lambda s: [*docker_start(s, f"{s}-1", 100), *crash(s, f"{s}-1", 200)], "exited"),
    "stopped": (lambda s: [*podman_start(s, f"{s}-1", 100), *stop(s, f"{s}-1", 200)], "absent"),
    "still starting": (
        lambda s: docker_start(s, f"{s}-1", 100, healthy=False),
        "starting",
    ),
}


def truth_of(service: str, outcome: str) -> ServiceStatus:
    if outcome == "ready":
        return ServiceStatus("healthy" if SERVICES[service] else "running")
    if outcome == "exited":
        return ServiceStatus("exited", exit_code=1, detail="exit code 1: the process failed")
    if outcome == "starting":
        return ServiceStatus("starting" if SERVICES[service] else "running")
    return ABSENT


class Containers:
    """The engine's current state of each service's container, as StackManager.status says."""

    def __init__(self, now: Mapping[str, ServiceStatus]) -> None:
        self.now = dict(now)
        self.reads = 0
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, ServiceStatus]:
        with self.lock:
            self.reads += 1
            return dict(self.now)


def watching(client: FakeClient, truth: Truth, changed: OnChange | None = None) -> StatusWatcher:
    """A watcher fed by `client`'s queue, reconciling with `truth` quickly (tests' pace)."""
    return StatusWatcher(
        client,  # type: ignore[arg-type]
        "lt-unit",
        SERVICES,
        changed,
        truth=truth,
        settle_s=0.01,
        every_s=0.05,
    )


def phase(statuses: Mapping[str, ServiceStatus]) -> str:
    views = tuple(ServiceView(n, statuses[n].state, statuses[n].describe()) for n in SERVICES)
    return phase_from_services(views, busy=False)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, ServiceStatus], list[dict[str, Any]]]:
    truth: dict[str, ServiceStatus] = {}
    events: list[dict[str, Any]] = []
    for service in SERVICES:
        story = draw(st.sampled_from(sorted(STORIES)))
        make, outcome = STORIES[story]
        truth[service] = truth_of(service, outcome)
        events += make(service)
    # Repeated (an events stream that reconnects sends what it sent) and reordered (late).
    repeats = draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    mixed = draw(st.permutations(events + repeats))
    return truth, mixed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_any_order_of_events_ends_where_the_containers_are(
    scenario: tuple[dict[str, ServiceStatus], list[dict[str, Any]]], data: st.DataObject
) -> None:
    truth, events = scenario
    client = FakeClient()
    containers = Containers(truth)
    w = watching(client, containers)
    try:
        # Some events come before the first reading, some after it (delayed).
        cut = data.draw(st.integers(0, len(events)))
        settle(w, client, *events[:cut])
        assert w.wait_reconciled(30), "no reconciliation within 30 s"
        settle(w, client, *events[cut:])
        assert w.wait_reconciled(30), "no reconciliation after the late events within 30 s"
        assert w.snapshot() == truth
        assert phase(w.snapshot()) == phase(truth)
    finally:
        w.close()


def test_a_late_start_after_healthy_is_undone_by_the_next_reconciliation() -> None:
    """What Podman did in the tray: healthy (its probe), then the container's own late `start`
    event; the tray said "starting" for ever. Now the next reconciliation says healthy."""
    client = FakeClient()
    seen: list[str] = []
    lock = threading.Lock()

    def changed(service: str, status: ServiceStatus) -> None:
        with lock:
            seen.append(f"{service}:{status.state}")

    containers = Containers({"kafka": ServiceStatus("healthy"), "riemann": ABSENT, "demo": ABSENT})
    w = watching(client, containers, changed)
    try:
        assert w.wait_reconciled(30)
        assert w.get("kafka").state == "healthy"
        settle(w, client, event("start", "k1", 500))  # late: it says "starting"
        assert w.wait_reconciled(30)
        assert w.get("kafka").state == "healthy"
        with lock:
            assert seen[-2:] == ["kafka:starting", "kafka:healthy"]
    finally:
        w.close()


def test_a_service_between_states_is_read_again_without_any_event() -> None:
    """Podman without systemd never sends the health verdict: while a service is starting, the
    containers are read now and then, and the service turns healthy when they say so."""
    client = FakeClient()
    containers = Containers({"kafka": ServiceStatus("starting"), "riemann": ABSENT, "demo": ABSENT})
    w = watching(client, containers)
    try:
        assert w.wait_reconciled(30)
        assert w.get("kafka").state == "starting"
        with containers.lock:
            containers.now["kafka"] = ServiceStatus("healthy")
        w.wait("kafka", 30)
        assert w.get("kafka").state == "healthy"
        assert w.wait_reconciled(30)
        reads = containers.reads
        # Settled: no more readings until something happens. A health check's exec is not news
        # (logtray's own checks cause them): no reading may follow it.
        settle(w, client, event("exec_start", "k1", 600))
        threading.Event().wait(0.3)  # a reading, if one were wrongly asked for, would be done
        assert containers.reads == reads
    finally:
        w.close()


def test_no_reading_while_an_action_of_ours_runs_then_one_after() -> None:
    client = FakeClient()
    acting = threading.Event()
    acting.set()
    containers = Containers({"kafka": ServiceStatus("healthy"), "riemann": ABSENT, "demo": ABSENT})

    def truth() -> dict[str, ServiceStatus] | None:
        return None if acting.is_set() else containers()

    w = watching(client, truth)
    try:
        settle(w, client, event("create", "k1", 10), event("start", "k1", 11))
        assert not w.wait_reconciled(0.3)
        assert w.get("kafka").state == "starting"
        acting.clear()
        w.nudge()
        assert w.wait_reconciled(30)
        assert w.get("kafka").state == "healthy"
    finally:
        w.close()
