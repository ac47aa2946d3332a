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
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import Container

from logtray.stack import health, preflight, probes, riemann_image
from logtray.stack.errors import LogtrayError
from logtray.stack.labels import LABEL_HASH, LABEL_SERVICE, LABEL_STACK, stack_filter
from logtray.stack.ports import port_holder
from logtray.stack.progress import PullProgress
from logtray.stack.saved_logs import KEEP_LINES, SavedLogs
from logtray.stack.saved_logs import default_dir as default_saved_logs_dir
from logtray.stack.specs import (
    HttpReadiness,
    KafkaReadiness,
    Readiness,
    ServiceSpec,
    spec_hash,
    start_layers,
)
from logtray.stack.status import ABSENT, READY_STATES, ServiceStatus
from logtray.stack.status import from_inspect as status_from_inspect
from logtray.stack.watcher import OnChange, StatusWatcher, parse_docker_time, services_of

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10
PROBE_MAX_DELAY_S = 1.0
PROBE_MAX_INFLIGHT = 3
LOG_TAIL = 30
# `status` probes a service from the host in these states (see _probed_status).
PROBED_STATES = frozenset({"starting", "healthy", "running"})


class StackError(LogtrayError):
    """A stack operation failed in a way the user can act on."""


class ServiceFailed(StackError):
    def __init__(
        self, service: str, message: str, fix: str | None = None, log_lines: Sequence[str] = ()
    ) -> None:
        hint = health.diagnose(log_lines)
        text = message
        if log_lines:
            text += "\n  last log lines:\n" + "\n".join(f"    {ln}" for ln in log_lines)
        super().__init__(text, fix=hint or fix)
        self.service = service
        self.log_lines = list(log_lines)


class PortTaken(StackError):
    pass


class _DependencyFailed(Exception):
    pass


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
    ) -> None:
        self.client = client
        self.name = stack_name
        self.specs = list(specs)
        self.by_name = {s.name: s for s in self.specs}
        self.pull = pull
        self.ready_timeout_s = ready_timeout_s
        self.run_preflight = check_resources
        self.on_status = on_status
        self.on_message = on_message or (lambda msg: log.info("%s", msg))
        # service -> the image its container runs, where that is not spec.image (an overlay)
        self._run_image: dict[str, str] = {}
        # The last lines of a service that failed to start outlive its container.
        self.saved_logs = SavedLogs(saved_logs_dir or default_saved_logs_dir(), stack_name)

    # -- names and labels ------------------------------------------------------------------
    def container_name(self, service: str) -> str:
        return f"{self.name}-{service}"

    def volume_name(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def _labels(self, service: str | None = None, spec_hash_: str | None = None) -> dict[str, str]:
        labels = {LABEL_STACK: self.name}
        if service:
            labels[LABEL_SERVICE] = service
        if spec_hash_:
            labels[LABEL_HASH] = spec_hash_
        return labels

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
        missing = [s.image for s in self.specs if self._image_id(s.image) is None]
        preflight.run(self.client.info(), self.specs, missing)

    # -- images --------------------------------------------------------------------------
    def _image_id(self, image: str) -> str | None:
        try:
            return str(self.client.images.get(image).id)
        except docker.errors.ImageNotFound:
            return None

    def ensure_images(self, watcher: StatusWatcher | None) -> dict[str, str]:
        """service -> image id; builds or pulls (on purpose) what is missing."""
        ids = self._obtain_all(watcher)
        for s in self.specs:
            if s.overlay:
                ids[s.name] = self._overlay(s, ids[s.name])
        return ids

    def _obtain_all(self, watcher: StatusWatcher | None) -> dict[str, str]:
        ids: dict[str, str] = {}
        missing: list[ServiceSpec] = []
        for s in self.specs:
            image_id = self._image_id(s.image)
            if image_id:
                ids[s.name] = image_id
            else:
                missing.append(s)
        if not missing:
            return ids
        # Distinct images are obtained once each, in parallel, each with its own percent.
        first: dict[str, ServiceSpec] = {}
        for s in missing:
            first.setdefault(s.image, s)
        with ThreadPoolExecutor(max_workers=min(4, len(first))) as pool:
            futures = {image: pool.submit(self._obtain, s, watcher) for image, s in first.items()}
        # Every image that could not be obtained is reported, not only the first.
        failed = [f.exception() for f in futures.values() if f.exception() is not None]
        if len(failed) == 1:
            raise failed[0]  # type: ignore[misc]
        if failed:
            lines = [getattr(exc, "message", str(exc)) for exc in failed]
            raise StackError(
                f"{len(failed)} images could not be obtained:\n  " + "\n  ".join(lines),
                fix="for each: check the network connection and the image name; offline, "
                "`docker load` it or point [stack.services.<name>] image at a local one",
            )
        for s in missing:
            ids[s.name] = futures[s.image].result()
        return ids

    def _obtain(self, spec: ServiceSpec, watcher: StatusWatcher | None) -> str:
        if spec.build:
            # A build would pull a missing base image by itself: pull it on purpose first.
            dockerfile = Path(spec.build, spec.dockerfile).read_text(encoding="utf-8")
            for base in base_images(dockerfile):
                if self._image_id(base) is None:
                    self._pull(spec.name, base, watcher)
            return self._build(spec)
        return self._pull(spec.name, spec.image, watcher)

    def _pull(self, service: str, image: str, watcher: StatusWatcher | None) -> str:
        if not self.pull:
            raise StackError(
                f"image {image} (service {service}) is not on this machine and pulling "
                "is turned off",
                fix=f"`docker pull {image}` (or `docker load` it), set [stack] pull = true, "
                f"or point [stack.services.{service}] image at one you have",
            )
        self.on_message(f"pulling {image} for {service}")
        progress = PullProgress()
        repo, tag = _split_tag(image)
        try:
            for msg in self.client.api.pull(repo, tag=tag, stream=True, decode=True):
                if "error" in msg:
                    raise docker.errors.APIError(str(msg["error"]))
                pct = progress.update(msg)
                if watcher is not None:
                    watcher.mark(service, ServiceStatus("pulling", percent=pct))
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise StackError(
                f"cannot pull {image} for {service}: {_api_message(exc)}",
                fix="check the network connection and the image name; offline, load the image "
                f"with `docker load` or point [stack.services.{service}] image at a local "
                "one",
            ) from None
        image_id = self._image_id(image)
        if image_id is None:
            raise StackError(f"pulling {image} finished but the image is not there")
        if watcher is not None:
            watcher.mark(service, ABSENT)
        return image_id

    def _overlay(self, spec: ServiceSpec, base_id: str) -> str:
        """The image `spec.image` + spec.overlay's files, built when missing; its id."""
        assert spec.overlay is not None
        context = Path(spec.overlay)
        tag = riemann_image.overlay_tag(spec.name, base_id, context)
        self._run_image[spec.name] = tag
        image_id = self._image_id(tag)
        if image_id:
            return image_id
        self.on_message(f"building {tag}: {spec.image} with {context}")
        try:
            image_id = riemann_image.build_overlay(self.client, spec.image, context, tag)
        except docker.errors.BuildError as exc:
            raise ServiceFailed(
                spec.name,
                f"building {tag} from {context} failed: {exc.msg}",
                log_lines=_build_lines(exc),
            ) from None
        except docker.errors.APIError as exc:
            raise StackError(f"building {tag} failed: {_api_message(exc)}") from None
        return image_id

    def _build(self, spec: ServiceSpec) -> str:
        assert spec.build is not None
        self.on_message(f"building {spec.image} from {spec.build}")
        try:
            image, _ = self.client.images.build(
                path=spec.build,
                dockerfile=spec.dockerfile,
                tag=spec.image,
                rm=True,
                forcerm=True,
                labels=self._labels(spec.name),
                pull=False,
            )
        except docker.errors.BuildError as exc:
            raise ServiceFailed(
                spec.name,
                f"building {spec.image} from {spec.build} failed: {exc.msg}",
                fix="a base image may be missing while offline: pull it once with network",
                log_lines=_build_lines(exc),
            ) from None
        except docker.errors.APIError as exc:
            raise StackError(f"building {spec.image} failed: {_api_message(exc)}") from None
        return str(image.id)

    # -- network and volumes ---------------------------------------------------------------
    def ensure_network(self) -> bool:
        if self.client.networks.list(names=[self.name], filters=stack_filter(self.name)):
            return False
        if self.client.networks.list(names=[self.name]):
            others = [
                n for n in self.client.networks.list(names=[self.name]) if n.name == self.name
            ]
            if others:
                raise StackError(
                    f"a Docker network named {self.name!r} exists that logtray did not create",
                    fix="remove it (`docker network rm`) or set [stack] name to another name",
                )
        self.client.networks.create(self.name, driver="bridge", labels=self._labels())
        return True

    def ensure_volumes(self) -> list[str]:
        created: list[str] = []
        for s in self.specs:
            for suffix in s.volumes:
                vname = self.volume_name(suffix)
                try:
                    self.client.volumes.get(vname)
                except docker.errors.NotFound:
                    self.client.volumes.create(vname, labels=self._labels(s.name))
                    created.append(vname)
        return created

    # -- up ------------------------------------------------------------------------------------
    def desired_hashes(self, image_ids: dict[str, str]) -> dict[str, str]:
        out = {}
        for s in self.specs:
            extra = {"image_id": image_ids.get(s.name, "")}
            for src in s.binds:
                extra[f"bind:{src}"] = _file_digest(src)
            out[s.name] = spec_hash(s, extra)
        return out

    def up(self, wait: bool = True) -> UpResult:
        start_layers(self.specs)  # fails early on a cycle
        existing = self.containers()
        if self.run_preflight:
            self.check_resources(existing)
        result = UpResult()
        created_containers: list[Container] = []
        created_volumes: list[str] = []
        created_network = False
        watcher = StatusWatcher(self.client, self.name, services_of(self.specs), self.on_status)
        try:
            image_ids = self.ensure_images(watcher)
            created_network = self.ensure_network()
            created_volumes = self.ensure_volumes()
            hashes = self.desired_hashes(image_ids)
            for svc, c in existing.items():
                if svc not in self.by_name:  # a service that was disabled since
                    self.on_message(f"removing {c.name} (service no longer enabled)")
                    _stop_remove(c)
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
                    raise _DependencyFailed(dep) from None
            if failure.is_set():
                raise _DependencyFailed("another service")
            action, container = self._ensure_container(
                spec, existing.get(spec.name), hashes[spec.name]
            )
            if action in ("created", "recreated"):
                with lock:
                    created.append(container)
            if action == "adopted" and spec.name == "riemann" and self._consumer_dead(container):
                # Riemann's consumer never recovers by itself (riemann#1016): restart it.
                self.on_message(f"restarting {container.name}: its Kafka consumer had stopped")
                self._restart(spec, container, watcher)
                action = "restarted"
            elif self._start(spec, container, watcher):
                action = action if action != "adopted" else "started"
            with lock:
                result.actions[spec.name] = action
            if wait:
                self._wait_ready(spec, container, watcher, adopted=action == "adopted")

        def bring_up_or_abort(spec: ServiceSpec) -> None:
            try:
                bring_up(spec)
            except _DependencyFailed:
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
                except _DependencyFailed:
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
            _stop_remove(container)
            self.saved_logs.forget(spec.name)
            return "recreated", self._create(spec, want_hash)
        self.saved_logs.forget(spec.name)
        return "created", self._create(spec, want_hash)

    def _create(self, spec: ServiceSpec, want_hash: str) -> Container:
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
            self.volume_name(suffix): {"bind": path, "mode": "rw"}
            for suffix, path in spec.volumes.items()
        }
        for src, dst in spec.binds.items():
            volumes[src] = {"bind": dst, "mode": "ro"}
        endpoint = self.client.api.create_endpoint_config(aliases=[spec.name])
        name = self.container_name(spec.name)
        try:
            return self.client.containers.create(
                self._run_image.get(spec.name, spec.image),
                command=list(spec.command) if spec.command is not None else None,
                name=name,
                hostname=spec.name,
                environment=dict(spec.env),
                labels=self._labels(spec.name, want_hash),
                init=True,
                mem_limit=spec.mem_limit,
                # ("127.0.0.1",): any free port, on loopback only.
                ports={
                    p: ("127.0.0.1", h) if h else ("127.0.0.1",)  # type: ignore[misc]
                    for p, h in spec.ports.items()
                },
                healthcheck=hc,
                network=self.name,
                networking_config={self.name: endpoint},
                volumes=volumes,
                extra_hosts=dict(spec.extra_hosts),
                detach=True,
            )
        except docker.errors.ImageNotFound:
            raise StackError(f"image {spec.image} for {spec.name} disappeared") from None
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise StackError(
                    f"a container named {name} exists that logtray did not create",
                    fix=f"remove it (`docker rm -f {name}`) or set [stack] name to another name",
                ) from None
            raise StackError(f"cannot create {name}: {_api_message(exc)}") from None

    def _start(self, spec: ServiceSpec, container: Container, watcher: StatusWatcher) -> bool:
        """Start the container unless it runs; True when it was started (or restarted)."""
        container.reload()
        state = status_from_inspect(container.attrs)
        running = container.attrs["State"].get("Status") == "running"
        if state.state in READY_STATES or (state.state == "starting" and running):
            return False
        try:
            if state.state == "unhealthy":
                container.restart(timeout=STOP_TIMEOUT_S)
            else:
                container.start()
        except docker.errors.APIError as exc:
            self._raise_start_error(spec, container, exc)
        container.reload()
        started = parse_docker_time(container.attrs["State"].get("StartedAt", ""))
        status = status_from_inspect(container.attrs)
        if status.state == "running" and spec.healthcheck is not None:
            status = ServiceStatus("starting")
        watcher.mark(spec.name, status, container.id or "", started)
        return True

    def _restart(self, spec: ServiceSpec, container: Container, watcher: StatusWatcher) -> None:
        container.restart(timeout=STOP_TIMEOUT_S)
        container.reload()
        started = parse_docker_time(container.attrs["State"].get("StartedAt", ""))
        status = (
            ServiceStatus("starting")
            if spec.healthcheck is not None
            else status_from_inspect(container.attrs)
        )
        watcher.mark(spec.name, status, container.id or "", started)

    def _consumer_dead(self, container: Container) -> bool:
        return health.riemann_consumer_dead(self.log_tail(container, 500, since_start=True))

    def _raise_start_error(
        self, spec: ServiceSpec, container: Container, exc: docker.errors.APIError
    ) -> None:
        text = _api_message(exc)
        m = re.search(r"(?:127\.0\.0\.1|0\.0\.0\.0|\[::\]|::):(\d+)", text)
        taken = "address already in use" in text or "port is already allocated" in text
        # A container that never started is useless: do not leave it behind.
        _stop_remove(container)
        if taken:
            port = int(m.group(1)) if m else 0
            holder = port_holder(port) if port else None
            if holder and "docker-proxy" in holder:
                holder = self._container_publishing(port) or holder
            who = f", held by {holder}" if holder else ""
            cport = next((p for p, h in spec.ports.items() if h == port), "?")
            raise PortTaken(
                f"{spec.name} cannot publish 127.0.0.1:{port or '?'}: the port is already "
                f"in use{who}",
                fix=f"stop what holds it, or map {spec.name}'s {cport} elsewhere: "
                f'[stack.services.{spec.name}.ports] "{cport.split("/")[0]}" = <free port>',
            ) from None
        raise StackError(f"cannot start {spec.name}: {text}") from None

    def _container_publishing(self, port: int) -> str | None:
        for c in self.client.containers.list(ignore_removed=True):
            for bindings in (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
                for b in bindings or []:
                    if str(b.get("HostPort")) == str(port):
                        return f"container {c.name}"
        return None

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
        (at most PROBE_MAX_INFLIGHT at once); the first that passes wins.
        """
        hc = spec.healthcheck
        if hc is None or not hc.test or hc.test[0] == "NONE":
            return
        cmd = (
            ["/bin/sh", "-c", " ".join(hc.test[1:])]
            if hc.test[0] == "CMD-SHELL"
            else list(hc.test[1:])
        )
        api = self.client.api
        inflight: list[str] = []
        delay = 0.05
        next_launch = time.monotonic()
        while not done.is_set():
            try:
                for exec_id in list(inflight):
                    info = api.exec_inspect(exec_id)
                    if info.get("Running"):
                        continue
                    inflight.remove(exec_id)
                    if info.get("ExitCode") == 0:
                        watcher.probe_passed(spec.name, container.id or "")
                        return
                if len(inflight) < PROBE_MAX_INFLIGHT and time.monotonic() >= next_launch:
                    exec_id = api.exec_create(container.id, cmd, stdout=False, stderr=False)["Id"]
                    api.exec_start(exec_id, detach=True)
                    inflight.append(exec_id)
                    next_launch = time.monotonic() + delay
                    # At most once a second: a user's own healthcheck may be heavy.
                    delay = min(delay * 1.5, hc.interval_s, PROBE_MAX_DELAY_S)
            except (docker.errors.APIError, requests.exceptions.RequestException):
                inflight.clear()  # not running (yet or any more): events will tell
                next_launch = time.monotonic() + delay
            done.wait(0.03)

    def _wait_ready(
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
            raise _DependencyFailed("another service failed")
        if st.state not in READY_STATES:
            self._fail(spec, container, st)

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
        while time.monotonic() < deadline:
            st = watcher.get(spec.name)
            if st.state in ("exited", "unhealthy"):
                self._fail(spec, container, st)
            if watcher.aborted:
                raise _DependencyFailed("another service failed")
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
        self._fail(spec, container, watcher.get(spec.name), seen.text)

    def _probe_port(self, spec: ServiceSpec, container: Container, check: Readiness) -> int:
        container.reload()
        if container.attrs["State"].get("Status") != "running":
            # It exited already (and publishes nothing any more): say why, with its logs.
            self._fail(spec, container, status_from_inspect(container.attrs))
        return self._host_port(container, check.port, reload=False)

    def _host_port(self, container: Container, cport: str, reload: bool = True) -> int:
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

    def _fail(
        self, spec: ServiceSpec, container: Container, st: ServiceStatus, seen: str = ""
    ) -> None:
        lines = self.log_tail(container, KEEP_LINES)
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

    def published_url(self, service: str, cport: str) -> str | None:
        """http://127.0.0.1:<host port> where a running service publishes `cport`."""
        c = self.containers().get(service)
        if c is None:
            return None
        for b in (c.attrs["NetworkSettings"].get("Ports") or {}).get(cport) or []:
            if b.get("HostPort"):
                return f"http://127.0.0.1:{b['HostPort']}"
        return None

    def log_tail(
        self, container: Container, lines: int = LOG_TAIL, since_start: bool = False
    ) -> list[str]:
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

    def _rollback(self, created: list[Container], network: bool, volumes: list[str]) -> None:
        """Undo what this `up` created, so a failed start leaves nothing behind."""
        for c in reversed(created):
            _stop_remove(c)
        if network and not self.containers():
            for n in self.client.networks.list(names=[self.name], filters=stack_filter(self.name)):
                _quietly(n.remove)
        for vname in volumes:
            _quietly(functools.partial(self._remove_volume, vname))

    def _remove_volume(self, name: str) -> None:
        self.client.volumes.get(name).remove()

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
                list(pool.map(_stop_remove, todo))
                result.containers += [str(c.name) for c in todo]
        for n in self.client.networks.list(filters=stack_filter(self.name)):
            _quietly(n.remove)
            result.networks.append(str(n.name))
        if volumes:
            for v in self.client.volumes.list(filters=stack_filter(self.name)):
                _quietly(v.remove)
                result.volumes.append(str(v.name))
        return result

    # -- status and logs -----------------------------------------------------------------------
    def status(self) -> dict[str, ServiceStatus]:
        out = dict.fromkeys((s.name for s in self.specs), ABSENT)
        for svc, c in self.containers().items():
            st = status_from_inspect(c.attrs)
            if svc == "riemann" and st.state in READY_STATES and self._consumer_dead(c):
                st = ServiceStatus(
                    st.state,
                    detail="its Kafka consumer stopped on a bad "
                    "message: `logtray stack up` (or `docker restart "
                    f"{c.name}`) restarts it",
                )
            spec = self.by_name.get(svc)
            check = spec.readiness if spec is not None else None
            # Kafka's probe loads a Kafka client: only while Docker cannot tell yet (an idle
            # tray asks status() at every reconnect and stack action).
            if isinstance(check, KafkaReadiness) and st.state != "starting":
                check = None
            if check is not None and st.state in PROBED_STATES:
                st = self._probed_status(c, check, st)
            out[svc] = st
        return out

    def _probed_status(
        self, container: Container, check: Readiness, st: ServiceStatus
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
            return ServiceStatus("healthy", detail="ready; Docker's first healthcheck is pending")
        return st

    def watch(self, on_change: OnChange | None = None) -> StatusWatcher:
        """A live status feed from the events stream (close it when done)."""
        return StatusWatcher(self.client, self.name, services_of(self.specs), on_change)

    def logs(self, service: str, follow: bool = False, tail: int = 100) -> Iterator[bytes]:
        c = self.containers().get(service)
        if c is None:
            saved = self.saved_logs.read(service, tail)
            if saved is not None:
                yield saved
                return
            raise StackError(
                f"{service} is not running in stack {self.name!r}",
                fix="`logtray stack status` lists the services",
            )
        if follow:
            yield from c.logs(stream=True, follow=True, tail=tail)
        else:
            yield c.logs(tail=tail)


def base_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile builds FROM (not `scratch`, not its own earlier stages)."""
    stages: set[str] = set()
    out: list[str] = []
    for raw in dockerfile.splitlines():
        parts = raw.split()
        if len(parts) < 2 or parts[0].upper() != "FROM":
            continue
        args = [p for p in parts[1:] if not p.startswith("--")]
        if not args:
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image.lower() in stages or image == "scratch" or "$" in image:
            continue
        if image not in out:
            out.append(image)
    return out


def _build_lines(exc: docker.errors.BuildError) -> list[str]:
    lines = [
        str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in exc.build_log
    ]
    return [ln for ln in lines if ln][-LOG_TAIL:]


def _split_tag(image: str) -> tuple[str, str]:
    name, _, digest = image.partition("@")
    if digest:
        return name, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = image.rpartition(":")
        return repo, tag
    return image, "latest"


def _api_message(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        log.warning("cleanup step failed: %s", _api_message(exc))


def _stop_remove(container: Container) -> None:
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
        if exc.status_code != 409 or "already in progress" not in _api_message(exc):
            raise
