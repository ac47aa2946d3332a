"""Live per-service status: the Docker events stream moves it at once; a reconciliation with
the containers' current state (inspect, and logtray's own checks) makes it right.

Events alone cannot be trusted to end in the right place: Podman sends some late (a `start`
after the probe said "healthy"), repeats them, and never says "healthy" where no systemd runs
its health checks; an events stream that reconnects misses what happened meanwhile. So every
event that can change a status also asks for a reconciliation a moment later, and so does a
service that is still between states now and then; whatever order the events came in, the
status is where the containers are after the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import docker

from logtray.stack.labels import LABEL_SERVICE, LABEL_STACK, stack_filter
from logtray.stack.status import ABSENT, READY_STATES, WATCHED_EVENTS, ServiceStatus, apply_event
from logtray.stack.status import from_inspect as status_from_inspect

log = logging.getLogger(__name__)

OnChange = Callable[[str, ServiceStatus], None]
# Every event of a service's current container, as Docker sent it (from the events thread).
OnEvent = Callable[[Mapping[str, Any]], None]
# The containers' current state per service (StackManager.status); None: not now (an `up` or
# `down` is under way and says the outcome itself). May raise when the engine went away.
Truth = Callable[[], Mapping[str, ServiceStatus] | None]

# How long after an event the reconciliation reads the containers: the events of one change
# come in a burst (die, then destroy; create, then start), one reading serves them all.
RECONCILE_SETTLE_S = 0.3
# While a service is between states (starting, pulling), read them this often: the engine may
# never send the event that ends it (Podman without systemd runs no health checks).
RECONCILE_EVERY_S = 3.0
# The actions that can change a status; others (Podman's exec_* of health checks, which logtray's
# own checks cause too) must not ask for a reconciliation, or each one would cause the next.
_NEWS = ("create", "start", "die", "destroy", "remove", "oom", "kill", "health_status")
_BETWEEN = ("starting", "pulling")


def parse_docker_time(value: str) -> int:
    """Docker's RFC 3339 time with nanoseconds ("2026-11-25T06:40:01.123456789Z") in ns."""
    if not value or value.startswith("0001-"):
        return 0
    head, _, frac = value.rstrip("Z").partition(".")
    frac_digits = "".join(ch for ch in frac if ch.isdigit())[:9].ljust(9, "0")
    base = datetime.fromisoformat(head + "+00:00")
    return int(base.timestamp()) * 1_000_000_000 + int(frac_digits)


class StatusWatcher:
    """Holds one status per service; a thread applies container events as they arrive.

    Subscribes first, then takes a snapshot, so no change between the two is lost. Events of a
    container other than the one a service is known to run (an old one being replaced), or
    older than the last known start, are ignored. With `truth`, a second thread reconciles the
    statuses with it: at start, after each burst of events, and while a service is between
    states (see the module's docstring).
    """

    def __init__(
        self,
        client: docker.DockerClient,
        stack_name: str,
        has_healthcheck: Mapping[str, bool],
        on_change: OnChange | None = None,
        on_event: OnEvent | None = None,
        filter_events: bool = True,
        truth: Truth | None = None,
        settle_s: float = RECONCILE_SETTLE_S,
        every_s: float = RECONCILE_EVERY_S,
    ) -> None:
        self._client = client
        self._on_event = on_event
        self._stack = stack_name
        self._has_hc = dict(has_healthcheck)
        self._on_change = on_change
        self._cond = threading.Condition()
        self._status: dict[str, ServiceStatus] = dict.fromkeys(self._has_hc, ABSENT)
        self._ids: dict[str, str] = {}
        self._since: dict[str, int] = {}
        self._last_ns: dict[str, int] = {}
        # Services whose current start the manager marked itself: the engine's own "start"
        # event for it can come later (Podman's events come through a file, after the start
        # returned, and after a probe may already have said "healthy"); it must not undo that.
        self._marked_start: set[str] = set()
        # Reconciliation: events that may have changed a status (counted), and how many of them
        # the last finished reading of the truth had seen.
        self._truth = truth
        self._settle_s = settle_s
        self._every_s = every_s
        self._news = 0
        self._reconciled_news = -1  # -1: the first reading is due at once
        self._nudged = False
        self._stop = threading.Event()
        filters: dict[str, Any] = {"type": ["container"], **stack_filter(stack_name)}
        if filter_events:
            # Podman 4 matches this filter against its own names: "die" would never arrive
            # (it runs no healthcheck execs to flood the stream either): filter_events=False.
            filters["event"] = list(WATCHED_EVENTS)
        self._stream = client.events(decode=True, filters=filters)
        self._closed = False
        self._aborted = False
        for c in client.containers.list(
            all=True, filters=stack_filter(stack_name), ignore_removed=True
        ):
            svc = c.labels.get(LABEL_SERVICE)
            if svc:
                self._ids[svc] = c.id or ""
                self._set(svc, status_from_inspect(c.attrs))
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()
        self._reconciler: threading.Thread | None = None
        if truth is not None:
            self._reconciler = threading.Thread(
                target=self._reconcile_loop, name="docker-reconcile", daemon=True
            )
            self._reconciler.start()

    # -- reading -------------------------------------------------------------------------
    def get(self, service: str) -> ServiceStatus:
        with self._cond:
            return self._status.get(service, ABSENT)

    def snapshot(self) -> dict[str, ServiceStatus]:
        with self._cond:
            return dict(self._status)

    def wait(self, service: str, timeout: float) -> ServiceStatus:
        """Block until the service is ready, has failed (exited/unhealthy), or time is up."""
        deadline = time.monotonic() + timeout

        def settled() -> bool:
            st = self._status.get(service, ABSENT)
            return st.state in READY_STATES or st.state in ("exited", "unhealthy")

        with self._cond:
            while not settled():
                left = deadline - time.monotonic()
                if left <= 0 or self._closed or self._aborted:
                    break
                self._cond.wait(left)
            return self._status.get(service, ABSENT)

    # -- writing -------------------------------------------------------------------------
    def mark(
        self,
        service: str,
        status: ServiceStatus,
        container_id: str | None = None,
        since_ns: int = 0,
    ) -> None:
        """Set a status the manager knows (pulling, or a container it just (re)started)."""
        with self._cond:
            if container_id is not None:
                same = self._ids.get(service) == container_id
                self._ids[service] = container_id
                self._since[service] = since_ns
                if same and self._last_ns.get(service, 0) >= since_ns > 0:
                    return  # events of this very start already arrived: they are newer
                if since_ns > 0:
                    self._marked_start.add(service)
            self._set(service, status)

    def probe_passed(self, service: str, container_id: str) -> None:
        """The service's own healthcheck test just passed (run by the manager, which does not
        wait for Docker's next interval): starting -> healthy, unless events say otherwise."""
        with self._cond:
            if self._ids.get(service) != container_id:
                return
            if self._status.get(service, ABSENT).state != "starting":
                return
        self._set(service, ServiceStatus("healthy"))

    def adopt(self, statuses: Mapping[str, ServiceStatus]) -> None:
        """Take the ready states another watcher saw (an `up`'s, whose own checks decided them)
        for services this one still calls "starting"."""
        for service, status in statuses.items():
            with self._cond:
                if service not in self._status:
                    continue
                current = self._status[service].state
            if current == "starting" and status.state in READY_STATES:
                self._set(service, status)

    def probe_failed(self, service: str, container_id: str) -> None:
        """The service's healthcheck test failed as often as its retries allow, counted by the
        manager where the engine runs no checks (Podman without systemd): starting ->
        unhealthy, as the engine itself would say."""
        with self._cond:
            if self._ids.get(service) != container_id:
                return
            if self._status.get(service, ABSENT).state != "starting":
                return
        self._set(service, ServiceStatus("unhealthy"))

    def _set(self, service: str, status: ServiceStatus) -> None:
        with self._cond:
            if self._status.get(service) == status:
                return
            self._status[service] = status
            self._cond.notify_all()
        if self._on_change is not None:
            try:
                self._on_change(service, status)
            except Exception:  # a display callback must never stop the watcher
                log.exception("status callback failed")

    def apply(self, event: Mapping[str, Any]) -> None:
        actor = event.get("Actor") or {}
        attrs = actor.get("Attributes") or {}
        if attrs.get(LABEL_STACK) != self._stack:
            return
        service = attrs.get(LABEL_SERVICE)
        if not service:
            return
        cid = str(event.get("id") or actor.get("ID") or "")
        action = str(event.get("Action") or event.get("status") or "")
        if action == "remove":  # Podman's word for Docker's "destroy"
            event = {**event, "Action": "destroy"}
            action = "destroy"
        t_ns = int(event.get("timeNano") or 0)
        with self._cond:
            known = self._ids.get(service)
            if known and cid != known:
                if action not in ("create", "start") or t_ns < self._since.get(service, 0):
                    return  # the old container of a service being replaced
                self._ids[service] = cid
            elif not known:
                self._ids[service] = cid
            if t_ns and t_ns < self._since.get(service, 0):
                return
            if action == "start" and service in self._marked_start:
                self._marked_start.discard(service)
                return  # the start the manager marked already (a duplicate, maybe late)
            if action in ("die", "destroy"):
                self._marked_start.discard(service)
            if action == "destroy":
                self._ids.pop(service, None)
            self._last_ns[service] = max(t_ns, self._last_ns.get(service, 0))
            prev = self._status.get(service, ABSENT)
            new = apply_event(prev, event, self._has_hc.get(service, False))
            if action.startswith(_NEWS):
                self._news += 1
                self._cond.notify_all()
        self._set(service, new)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a listener must never stop the watcher
                log.exception("event callback failed")

    # -- reconciliation ------------------------------------------------------------------
    def nudge(self) -> None:
        """Reconcile soon: something happened that no event may tell (an `up` or `down` of
        ours ended, during which the truth was not read)."""
        with self._cond:
            self._nudged = True
            self._cond.notify_all()

    def wait_reconciled(self, timeout: float) -> bool:
        """Block until a reading of the truth that saw every event applied so far has
        finished; False when time ran out first (or there is no truth to read)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            news = self._news
            while self._reconciled_news < news:
                left = deadline - time.monotonic()
                if left <= 0 or self._truth is None or self._stop.is_set():
                    return False
                self._cond.wait(left)
            return True

    def _due(self, next_periodic: float) -> float | None:
        """Seconds until the next reading (0: now), None: only when news comes. Under _cond."""
        if self._nudged or self._news != self._reconciled_news:
            return 0.0
        if any(st.state in _BETWEEN for st in self._status.values()):
            return max(0.0, next_periodic - time.monotonic())
        return None

    def _reconcile_loop(self) -> None:
        assert self._truth is not None
        next_periodic = time.monotonic()
        while not self._stop.is_set():
            with self._cond:
                wait = self._due(next_periodic)
                while wait != 0.0 and not self._stop.is_set():
                    self._cond.wait(wait)
                    wait = self._due(next_periodic)
            # The events of one change come in a burst: read once they are in.
            if self._stop.wait(self._settle_s):
                return
            with self._cond:
                seen, self._nudged = self._news, False
            try:
                truth = self._truth()
            except Exception:  # the engine went away: the events stream's end says so
                log.debug("cannot read the containers' state", exc_info=True)
                truth = None
            next_periodic = time.monotonic() + self._every_s
            if truth is None:
                if self._stop.wait(self._every_s):
                    return
                continue
            with self._cond:
                if self._news != seen:
                    continue  # an event came while reading: what was read may be older
            for service, status in truth.items():
                if service in self._has_hc:
                    self._set(service, status)
            with self._cond:
                self._reconciled_news = max(self._reconciled_news, seen)
                self._cond.notify_all()

    def has_healthcheck(self, service: str) -> bool:
        return self._has_hc.get(service, False)

    def _run(self) -> None:
        try:
            for event in self._stream:
                if isinstance(event, dict):
                    self.apply(event)
        except Exception:
            if not self._closed:
                log.exception("the Docker events stream failed")
        finally:
            self._stop.set()  # no reconciling a feed that has ended
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Block until the events stream has ended (Docker went away, or close()); True if so."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abort(self) -> None:
        """Wake every `wait` now: the operation waiting has failed elsewhere."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    @property
    def aborted(self) -> bool:
        return self._aborted

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        try:
            self._stream.close()
        except Exception:  # closing a broken stream must not mask the real error
            log.debug("closing the events stream failed", exc_info=True)
        self._thread.join(timeout=2)
        if self._reconciler is not None:
            self._reconciler.join(timeout=2)

    def __enter__(self) -> StatusWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def services_of(specs: Iterable[Any]) -> dict[str, bool]:
    return {s.name: s.healthcheck is not None for s in specs}
