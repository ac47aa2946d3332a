"""The stack's lifecycle through the Docker SDK: up, down, status, logs.

Everything created carries the stack label and is found again by label only. `up` never pulls
implicitly: images are checked first and pulled on purpose (with progress) or built; containers
are created, then started in dependency order, independent services in parallel, each one
gated on its dependencies' readiness.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import requests
from docker.models.containers import Container

from logtray.stack import alert_route, container_logs, health, network_volumes, preflight
from logtray.stack.container_logs import LOG_TAIL
from logtray.stack.containers import (
    create_container,
    restart_container,
    start_container,
    stop_remove,
)
from logtray.stack.engine_info import EngineInfo, inspect_engine
from logtray.stack.failures import PortTaken, ServiceFailed, StackError
from logtray.stack.images import Images
from logtray.stack.labels import LABEL_HASH, LABEL_SERVICE, owned_labels, stack_filter
from logtray.stack.ports import free_port
from logtray.stack.published import host_port
from logtray.stack.readiness import (
    DependencyFailed,
    ReadinessWait,
    checked_status,
    probed_status,
)
from logtray.stack.saved_logs import SavedLogs
from logtray.stack.saved_logs import default_dir as default_saved_logs_dir
from logtray.stack.specs import (
    KAFKA_HOST_PORT,
    KafkaReadiness,
    ServiceSpec,
    needs_pinned_port,
    pin_host_port,
    spec_hash,
    start_layers,
)
from logtray.stack.status import ABSENT, READY_STATES, ServiceStatus
from logtray.stack.status import from_inspect as status_from_inspect
from logtray.stack.topics import TopicSpec, ensure_topics
from logtray.stack.watcher import OnChange, StatusWatcher, services_of

# The errors of a stack operation are imported from here (they live in stack/failures.py).
__all__ = ["DownResult", "PortTaken", "ServiceFailed", "StackError", "StackManager", "UpResult"]

log = logging.getLogger(__name__)

# `status` probes a service from the host in these states (see readiness.probed_status).
PROBED_STATES = frozenset({"starting", "healthy", "running"})


@dataclass
class UpResult:
    # service -> "created" | "recreated" | "adopted" | "started"
    actions: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, ServiceStatus] = field(default_factory=dict)


@dataclass
class DownResult:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


class StackManager:
    def __init__(
        self,
        client: docker.DockerClient,
        stack_name: str,
        specs: Sequence[ServiceSpec],
        *,
        pull: bool = True,
        ready_timeout_s: float = 300.0,
        check_resources: bool = True,
        on_status: OnChange | None = None,
        on_message: Callable[[str], None] | None = None,
        saved_logs_dir: Path | None = None,
        topics: Sequence[TopicSpec] = (),
    ) -> None:
        self.client = client
        # Kafka topics made once Kafka is ready (stack/topics.py): the alerts topic.
        self.topics = tuple(topics)
        self.name = stack_name
        self.specs = list(specs)
        self.by_name = {s.name: s for s in self.specs}
        self.pull = pull
        self.ready_timeout_s = ready_timeout_s
        self.run_preflight = check_resources
        self.on_status = on_status
        self.on_message = on_message or (lambda msg: log.info("%s", msg))
        self.images = Images(client, stack_name, pull=pull, on_message=self.on_message)
        # The last lines of a service that failed to start outlive its container.
        self.saved_logs = SavedLogs(saved_logs_dir or default_saved_logs_dir(), stack_name)
        self.readiness = ReadinessWait(
            client,
            ready_timeout_s,
            self.on_message,
            self.saved_logs,
            engine_checks=lambda: self.engine_runs_healthchecks,
        )

    # -- names and labels ------------------------------------------------------------------
    def container_name(self, service: str) -> str:
        return f"{self.name}-{service}"

    def volume_name(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def containers(self) -> dict[str, Container]:
        out: dict[str, Container] = {}
        for c in self.client.containers.list(
            all=True, filters=stack_filter(self.name), ignore_removed=True
        ):
            svc = c.labels.get(LABEL_SERVICE)
            if svc:
                out[svc] = c
        return out

    # -- preflight ---------------------------------------------------------------------------
    def check_resources(self, existing: dict[str, Container]) -> None:
        """Disk and memory before anything is pulled or created (stack/preflight.py). Not
        when every service runs already (a warm `up`: nothing to pull or start)."""
        running = {s for s, c in existing.items() if c.attrs["State"].get("Status") == "running"}
        if running >= set(self.by_name):
            return
        missing = [s.image for s in self.specs if self.images.image_id(s.image) is None]
        preflight.run(self.client.info(), self.specs, missing)

    # -- images, network and volumes (stack/images.py, stack/network_volumes.py) --------------
    def ensure_images(self, watcher: StatusWatcher | None) -> dict[str, str]:
        """service -> image id; builds or pulls (on purpose) what is missing."""
        return self.images.ensure(self.specs, watcher)

    def ensure_network(self) -> bool:
        return network_volumes.ensure_network(self.client, self.name)

    def ensure_volumes(self) -> list[str]:
        return network_volumes.ensure_volumes(self.client, self.name, self.specs, self.volume_name)

    # -- up ------------------------------------------------------------------------------------
    def desired_hashes(self, image_ids: dict[str, str]) -> dict[str, str]:
        out = {}
        for s in self.specs:
            extra = {"image_id": image_ids.get(s.name, "")}
            for src in s.binds:
                extra[f"bind:{src}"] = _file_digest(src)
            if needs_pinned_port(s):
                # Created on a free port it advertises (`_create`): a Kafka created before
                # that advertised 9094 on a port picked by the engine, and is recreated once.
                extra["host_port"] = "pinned"
            out[s.name] = spec_hash(s, extra)
        return out

    # -- the engine -------------------------------------------------------------------------
    @functools.cached_property
    def engine(self) -> EngineInfo | None:
        """What the engine is (Docker, Podman, rootless...); None when it cannot say."""
        try:
            return inspect_engine(self.client)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return None

    @property
    def engine_runs_healthchecks(self) -> bool:
        return self.engine is None or self.engine.runs_healthchecks

    def _route_alerts(self) -> None:
        """Point Riemann's host name where this engine reaches logtray (stack/alert_route.py)."""
        address = alert_route.alert_address(self.engine, alert_route.bridge_addresses())
        self.specs = [alert_route.adapt(s, address) for s in self.specs]
        self.by_name = {s.name: s for s in self.specs}

    def up(self, wait: bool = True) -> UpResult:
        start_layers(self.specs)  # fails early on a cycle
        self._route_alerts()
        existing = self.containers()
        if self.run_preflight:
            self.check_resources(existing)
        result = UpResult()
        created_containers: list[Container] = []
        created_volumes: list[str] = []
        created_network = False
        watcher = self._watcher(self.on_status)
        try:
            image_ids = self.ensure_images(watcher)
            created_network = self.ensure_network()
            created_volumes = self.ensure_volumes()
            hashes = self.desired_hashes(image_ids)
            for svc, c in existing.items():
                if svc not in self.by_name:  # a service that was disabled since
                    self.on_message(f"removing {c.name} (service no longer enabled)")
                    stop_remove(c)
            self._start_all(existing, hashes, wait, watcher, result, created_containers)
            result.statuses = watcher.snapshot()
            return result
        except BaseException:
            self._rollback(created_containers, created_network, created_volumes)
            raise
        finally:
            watcher.close()

    def _start_all(
        self,
        existing: dict[str, Container],
        hashes: dict[str, str],
        wait: bool,
        watcher: StatusWatcher,
        result: UpResult,
        created: list[Container],
    ) -> None:
        lock = threading.Lock()
        futures: dict[str, Future[None]] = {}
        failure = threading.Event()

        def bring_up(spec: ServiceSpec) -> None:
            for dep in spec.depends_on:
                try:
                    futures[dep].result()
                except Exception:
                    raise DependencyFailed(dep) from None
            if failure.is_set():
                raise DependencyFailed("another service")
            action, container = self._ensure_container(
                spec, existing.get(spec.name), hashes[spec.name]
            )
            if action in ("created", "recreated"):
                with lock:
                    created.append(container)
            if action == "adopted" and spec.name == "riemann" and self._consumer_dead(container):
                # Riemann's consumer never recovers by itself (riemann#1016): restart it.
                self.on_message(f"restarting {container.name}: its Kafka consumer had stopped")
                restart_container(spec, container, watcher)
                action = "restarted"
            elif start_container(self.client, spec, container, watcher):
                action = action if action != "adopted" else "started"
            with lock:
                result.actions[spec.name] = action
            if wait:
                self.readiness.wait_ready(spec, container, watcher, adopted=action == "adopted")
                if spec.name == "kafka" and self.topics:
                    self._make_topics(container)

        def bring_up_or_abort(spec: ServiceSpec) -> None:
            try:
                bring_up(spec)
            except DependencyFailed:
                raise
            except BaseException:
                # Fail fast: wake every other wait; nothing more will be started.
                failure.set()
                watcher.abort()
                raise

        # One thread per service: each waits only on its own dependencies.
        with ThreadPoolExecutor(max_workers=max(1, len(self.specs))) as pool:
            for layer in start_layers(self.specs):
                for name in layer:
                    futures[name] = pool.submit(bring_up_or_abort, self.by_name[name])
            errors: list[BaseException] = []
            for name in [n for layer in start_layers(self.specs) for n in layer]:
                try:
                    futures[name].result()
                except DependencyFailed:
                    continue
                except BaseException as exc:
                    failure.set()
                    errors.append(exc)
        if errors:
            raise errors[0]

    def _ensure_container(
        self, spec: ServiceSpec, container: Container | None, want_hash: str
    ) -> tuple[str, Container]:
        if container is not None:
            if container.labels.get(LABEL_HASH) == want_hash:
                return "adopted", container
            self.on_message(f"recreating {container.name} (its spec changed)")
            stop_remove(container)
            self.saved_logs.forget(spec.name)
            return "recreated", self._create(spec, want_hash)
        self.saved_logs.forget(spec.name)
        return "created", self._create(spec, want_hash)

    def _create(self, spec: ServiceSpec, want_hash: str) -> Container:
        if needs_pinned_port(spec):
            spec = pin_host_port(spec, free_port())
        return create_container(
            self.client,
            spec,
            name=self.container_name(spec.name),
            image=self.images.run_image.get(spec.name, spec.image),
            network=self.name,
            labels=owned_labels(self.name, spec.name, want_hash),
            volume_name=self.volume_name,
        )

    def _make_topics(self, kafka: Container) -> None:
        """The stack's topics, before Riemann (which depends on Kafka) publishes to them: made
        with their retention, never failing `up` (Riemann's first alert would auto-create the
        topic with the broker's default retention instead)."""
        names = ", ".join(t.name for t in self.topics)
        try:
            kafka.reload()
            port = host_port(kafka.attrs, KAFKA_HOST_PORT)
            if port is None:
                raise RuntimeError(f"{kafka.name} publishes no {KAFKA_HOST_PORT}")
            self.on_message(f"kafka: {ensure_topics(f'127.0.0.1:{port}', self.topics)}")
        except Exception as exc:
            self.on_message(
                f"kafka: cannot make the topic {names} ({type(exc).__name__}: {exc}); the first "
                "alert creates it with Kafka's default retention (7 days)"
            )

    def _consumer_dead(self, container: Container) -> bool:
        return health.riemann_consumer_dead(self.log_tail(container, 500, since_start=True))

    def published_url(self, service: str, cport: str) -> str | None:
        """http://127.0.0.1:<host port> where a running service publishes `cport`."""
        c = self.containers().get(service)
        port = None if c is None else host_port(c.attrs, cport)
        return None if port is None else f"http://127.0.0.1:{port}"

    def log_tail(
        self, container: Container, lines: int = LOG_TAIL, since_start: bool = False
    ) -> list[str]:
        """The last log lines; with since_start, only those of the container's current run."""
        return container_logs.log_tail(container, lines, since_start)

    def _rollback(self, created: list[Container], network: bool, volumes: list[str]) -> None:
        """Undo what this `up` created, so a failed start leaves nothing behind."""
        network_volumes.rollback(self.client, self.name, self.containers, created, network, volumes)

    # -- down ------------------------------------------------------------------------------
    def down(self, volumes: bool = False) -> DownResult:
        result = DownResult()
        containers = self.containers()
        deps = {s.name: s.depends_on for s in self.specs}
        # Reverse start order: dependents first (a broker with connected clients waits on
        # SIGTERM). Containers of services not in the spec go first.
        layers = [[svc for svc in containers if svc not in deps]]
        known = [s for s in self.specs]
        layers += [list(layer) for layer in reversed(start_layers(known))]
        with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
            for layer in layers:
                todo = [containers[s] for s in layer if s in containers]
                list(pool.map(stop_remove, todo))
                result.containers += [str(c.name) for c in todo]
        for n in self.client.networks.list(filters=stack_filter(self.name)):
            network_volumes.quietly(n.remove)
            result.networks.append(str(n.name))
        if volumes:
            for v in self.client.volumes.list(filters=stack_filter(self.name)):
                network_volumes.quietly(v.remove)
                result.volumes.append(str(v.name))
        return result

    # -- status and logs -----------------------------------------------------------------------
    def status(self) -> dict[str, ServiceStatus]:
        out = dict.fromkeys((s.name for s in self.specs), ABSENT)
        for svc, c in self.containers().items():
            st = status_from_inspect(c.attrs)
            spec = self.by_name.get(svc)
            check = spec.readiness if spec is not None else None
            # Kafka's probe loads a Kafka client: only while Docker cannot tell yet (an idle
            # tray asks status() at every reconnect and stack action).
            if isinstance(check, KafkaReadiness) and st.state != "starting":
                check = None
            checks = self.engine_runs_healthchecks
            if check is not None and st.state in PROBED_STATES:
                st = probed_status(c, check, st, checks)
            elif check is None and spec is not None and spec.healthcheck is not None:
                # No host probe: while the engine says "starting" (Podman without systemd says
                # it for ever), the service's own healthcheck, run once by logtray, decides.
                st = checked_status(self.client, c, spec.healthcheck.test, st, checks)
            if svc == "riemann" and st.state in READY_STATES and self._consumer_dead(c):
                st = ServiceStatus(
                    st.state,
                    detail="its Kafka consumer stopped on a bad "
                    "message: `logtray stack up` (or `docker restart "
                    f"{c.name}`) restarts it",
                )
            out[svc] = st
        return out

    def watch(self, on_change: OnChange | None = None) -> StatusWatcher:
        """A live status feed from the events stream (close it when done)."""
        watcher = self._watcher(on_change)
        if not self.engine_runs_healthchecks:
            # The engine's health of a ready service stays "starting" (Podman without
            # systemd): start the feed from what logtray's own checks say instead.
            for service, status in self.status().items():
                if watcher.get(service).state == "starting" and status.state in READY_STATES:
                    watcher.mark(service, status)
        return watcher

    def _watcher(self, on_change: OnChange | None) -> StatusWatcher:
        podman = self.engine is not None and self.engine.podman
        return StatusWatcher(
            self.client, self.name, services_of(self.specs), on_change, filter_events=not podman
        )

    def logs(self, service: str, follow: bool = False, tail: int = 100) -> Iterator[bytes]:
        yield from container_logs.logs(
            self.containers().get(service), self.saved_logs, self.name, service, follow, tail
        )
