"""Waiting until a started service is ready: its host probe through the published port, or its
own healthcheck run early; the failure report (with its last log lines, saved) when it is not;
and the one host probe `status` adds to Docker's verdict."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import docker
import docker.errors
import requests
from docker.models.containers import Container

from logtray.stack import probes
from logtray.stack.container_logs import LOG_TAIL, log_tail
from logtray.stack.failures import ServiceFailed, StackError
from logtray.stack.saved_logs import KEEP_LINES, SavedLogs
from logtray.stack.specs import HttpReadiness, KafkaReadiness, Readiness, ServiceSpec
from logtray.stack.status import READY_STATES, ServiceStatus
from logtray.stack.status import from_inspect as status_from_inspect
from logtray.stack.watcher import StatusWatcher

PROBE_MAX_DELAY_S = 1.0
PROBE_MAX_INFLIGHT = 3


class DependencyFailed(Exception):
    """A service is not started (or no longer waited on) because another one failed."""


class ReadinessWait:
    """Waits, up to ready_timeout_s, until a started service is ready; raises ServiceFailed
    (and saves its last log lines) when it is not."""

    def __init__(
        self,
        client: docker.DockerClient,
        ready_timeout_s: float,
        on_message: Callable[[str], None],
        saved_logs: SavedLogs,
        engine_checks: Callable[[], bool] = lambda: True,
    ) -> None:
        self.client = client
        # Does the engine run health checks itself? Where it does not (Podman without
        # systemd), the prober also counts failures and says "unhealthy" as the engine would.
        self.engine_checks = engine_checks
        self.ready_timeout_s = ready_timeout_s
        self.on_message = on_message
        self.saved_logs = saved_logs

    def wait_ready(
        self,
        spec: ServiceSpec,
        container: Container,
        watcher: StatusWatcher,
        adopted: bool = False,
    ) -> None:
        if spec.readiness is not None:
            if (
                adopted
                and isinstance(spec.readiness, KafkaReadiness)
                and watcher.get(spec.name).state == "healthy"
            ):
                # A running broker that passed the probe when it started and that Docker still
                # calls healthy: a warm `up` need not load aiokafka (0.1-0.5 s) to ask again.
                return
            self._wait_probe(spec, spec.readiness, container, watcher)
            return
        done = threading.Event()
        prober = threading.Thread(
            target=self._probe,
            args=(spec, container, watcher, done),
            name=f"probe-{spec.name}",
            daemon=True,
        )
        prober.start()
        try:
            st = watcher.wait(spec.name, self.ready_timeout_s)
        finally:
            done.set()
        if watcher.aborted and st.state not in READY_STATES:
            raise DependencyFailed("another service failed")
        if st.state not in READY_STATES:
            self.fail(spec, container, st)

    def _probe(
        self, spec: ServiceSpec, container: Container, watcher: StatusWatcher, done: threading.Event
    ) -> None:
        """For a service without a host probe (Riemann; user services): run its healthcheck
        test now and then until it passes or `done`.

        Docker 20.10 runs the first check only one full interval after the start (no
        start_interval), so a service is usually ready well before Docker says so. The same
        test, run right away with a short backoff, gates dependents as soon as it is true.
        A test can block for a while when it starts before the service listens (clients
        retrying), so a new run is launched on schedule even if an older one has not returned
        (at most PROBE_MAX_INFLIGHT at once); the first that passes wins. Podman without
        systemd never runs health checks at all: there, this is what makes such a service ready.
        """
        hc = spec.healthcheck
        if hc is None or not hc.test or hc.test[0] == "NONE":
            return
        cmd = healthcheck_command(hc.test)
        finished: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        inflight = 0
        delay = 0.05
        next_launch = time.monotonic()
        counts_failures = not self.engine_checks()
        failures_from = time.monotonic() + hc.start_period_s
        failures = 0
        while not done.is_set():
            while not finished.empty():
                inflight -= 1
                code = finished.get()
                if code == 0:
                    watcher.probe_passed(spec.name, container.id or "")
                    return
                exited = self._exited(container) if code is None else None
                if exited is not None:  # its exit event may be late or lost (Podman 4)
                    watcher.mark(spec.name, exited)
                    return
                if counts_failures and code is not None and time.monotonic() >= failures_from:
                    failures += 1
                    if failures >= max(1, hc.retries):
                        watcher.probe_failed(spec.name, container.id or "")
                        return
            if inflight < PROBE_MAX_INFLIGHT and time.monotonic() >= next_launch:
                threading.Thread(
                    target=lambda: finished.put(run_check(self.client, container, cmd)),
                    name=f"check-{spec.name}",
                    daemon=True,
                ).start()
                inflight += 1
                next_launch = time.monotonic() + delay
                # At most once a second: a user's own healthcheck may be heavy.
                delay = min(delay * 1.5, hc.interval_s, PROBE_MAX_DELAY_S)
            done.wait(0.03)

    def _wait_probe(
        self,
        spec: ServiceSpec,
        check: Readiness,
        container: Container,
        watcher: StatusWatcher,
    ) -> None:
        """Ready when the host probe through the published port passes: not gated on Docker's
        healthcheck, whose first run comes a whole interval (30 s) after the start. Docker's
        verdict still fails the wait (exited, unhealthy)."""
        deadline = time.monotonic() + self.ready_timeout_s
        probe: probes.ReadinessProbe | None = None
        seen = probes.Seen(False, "not probed yet")
        delay = 0.05
        inspected = time.monotonic()
        while time.monotonic() < deadline:
            st = watcher.get(spec.name)
            if st.state not in ("exited", "unhealthy") and time.monotonic() - inspected >= 1:
                # Once a second, ask the engine too: an exit whose event is late or lost (seen
                # with Podman 4) must not cost the whole timeout.
                inspected = time.monotonic()
                st = self._exited(container) or st
            if st.state in ("exited", "unhealthy"):
                self.fail(spec, container, st)
            if watcher.aborted:
                raise DependencyFailed("another service failed")
            if probe is None:
                probe = probes.ReadinessProbe(check, self._probe_port(spec, container, check))
            seen = probe()
            if seen.ok:
                if isinstance(check, HttpReadiness) and seen.value != check.json_value:
                    self.on_message(f"{spec.name} is ready: {seen.text}")
                watcher.probe_passed(spec.name, container.id or "")
                return
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, PROBE_MAX_DELAY_S)
        self.fail(spec, container, watcher.get(spec.name), seen.text)

    @staticmethod
    def _exited(container: Container) -> ServiceStatus | None:
        try:
            container.reload()
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None
        st = status_from_inspect(container.attrs)
        return st if st.state == "exited" else None

    def _probe_port(self, spec: ServiceSpec, container: Container, check: Readiness) -> int:
        container.reload()
        if container.attrs["State"].get("Status") != "running":
            # It exited already (and publishes nothing any more): say why, with its logs.
            self.fail(spec, container, status_from_inspect(container.attrs))
        return host_port(container, check.port, reload=False)

    def fail(
        self, spec: ServiceSpec, container: Container, st: ServiceStatus, seen: str = ""
    ) -> None:
        """Raise ServiceFailed for a service that did not become ready, with its last log
        lines (saved, so they outlive its container)."""
        lines = log_tail(container, KEEP_LINES)
        self.saved_logs.save(spec.name, st.describe(), lines)
        lines = lines[-LOG_TAIL:]
        if st.state == "exited":
            msg = f"{spec.name} exited with code {st.exit_code} while starting"
        elif st.state == "unhealthy":
            msg = f"{spec.name} never became healthy"
            try:
                container.reload()
                hlog = container.attrs["State"]["Health"]["Log"]
                if hlog:
                    msg += (
                        f" (last healthcheck: exit {hlog[-1].get('ExitCode')}, "
                        f"{str(hlog[-1].get('Output', '')).strip()[:200]!r})"
                    )
            except (KeyError, TypeError, docker.errors.APIError):
                pass
        else:
            msg = (
                f"{spec.name} was not ready within {self.ready_timeout_s:.0f} s "
                f"(status: {st.describe()}{'; ' + seen if seen else ''})"
            )
        raise ServiceFailed(
            spec.name,
            msg,
            fix=f"see `logtray stack logs {spec.name}`; raise [stack] ready_timeout_s if it is "
            "only slow",
            log_lines=lines,
        )


def healthcheck_command(test: tuple[str, ...] | list[str]) -> list[str]:
    """The command a healthcheck's test runs ("CMD-SHELL" goes through /bin/sh -c)."""
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:])


def run_check(client: docker.DockerClient, container: Container, cmd: list[str]) -> int | None:
    """Run one healthcheck test in the container and return its exit code (None: it could not
    run). Attached, not detached: Podman 4 keeps reporting a detached exec as running after it
    has ended, so its exit code would never be read."""
    try:
        exec_id = client.api.exec_create(container.id, cmd, stdout=True, stderr=True)["Id"]
        client.api.exec_start(exec_id, detach=False)
        code = client.api.exec_inspect(exec_id).get("ExitCode")
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None  # not running (yet or any more): events will tell
    return code if isinstance(code, int) else None


def host_port(container: Container, cport: str, reload: bool = True) -> int:
    """The host port where the container publishes `cport` (its readiness probe needs it)."""
    if reload:
        container.reload()
    bindings = (container.attrs["NetworkSettings"].get("Ports") or {}).get(cport) or []
    for b in bindings:
        if b.get("HostPort"):
            return int(b["HostPort"])
    raise StackError(
        f"{container.name} does not publish {cport}: its readiness probe needs it",
        fix=f"publish {cport} in [stack.services.<name>.ports]",
    )


HOST_PROBED = "ready; Docker's first healthcheck is pending"
# Podman runs health checks from systemd timers: without systemd a health stays "starting".
HOST_PROBED_NO_HEALTHCHECKS = "ready (probed from the host: the engine runs no health checks)"
EXEC_CHECKED = "ready (its healthcheck, run by logtray in the container); Docker's is pending"
EXEC_CHECKED_NO_HEALTHCHECKS = (
    "ready (its healthcheck, run by logtray in the container: the engine runs none)"
)


def probed_status(
    container: Container, check: Readiness, st: ServiceStatus, engine_checks: bool = True
) -> ServiceStatus:
    """One host probe says more than Docker's health: ready before Docker's first check
    (30 s after the start), and Kibana's "degraded" with its reason."""
    bindings = (container.attrs["NetworkSettings"].get("Ports") or {}).get(check.port) or []
    port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), None)
    if port is None:
        return st
    seen = probes.probe_once(check, port, timeout=1.0)
    if isinstance(check, HttpReadiness) and seen.value in check.tolerated:
        reason = f": {seen.about}" if seen.about else ""
        return ServiceStatus(st.state, detail=f"{seen.value}{reason}")
    if seen.ok and st.state == "starting":
        detail = HOST_PROBED if engine_checks else HOST_PROBED_NO_HEALTHCHECKS
        return ServiceStatus("healthy", detail=detail)
    return st


def checked_status(
    client: docker.DockerClient,
    container: Container,
    test: tuple[str, ...],
    st: ServiceStatus,
    engine_checks: bool = True,
) -> ServiceStatus:
    """For a service without a host probe that the engine still calls "starting": its own
    healthcheck test, run once in the container by logtray."""
    if st.state != "starting" or not test or test[0] == "NONE":
        return st
    if container.attrs["State"].get("Status") != "running":
        return st
    if run_check(client, container, healthcheck_command(test)) != 0:
        return st
    return ServiceStatus(
        "healthy", detail=EXEC_CHECKED if engine_checks else EXEC_CHECKED_NO_HEALTHCHECKS
    )
