"""The app's view of the stack: stack.manager behind a few blocking calls that speak in
ServiceViews (so the app and the menu stay free of Docker types).

Every method blocks (Docker calls); the app runs them through asyncio.to_thread. Callbacks
come from Docker's event thread. A Docker failure is a LogtrayError with a sentence and a fix.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from logtray.tray.base.config import Config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.kafka_address import NOT_RUNNING, KafkaAddress, choose_kafka
from logtray.tray.desktop.state import ServiceView

log = logging.getLogger(__name__)

OnServices = Callable[[tuple[ServiceView, ...]], None]
# An incident-relevant container event (a stack/incidents.py Observation), from Docker's thread.
OnObservation = Callable[[Any], None]


class StackLink:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._manager: Any = None
        self._watcher: Any = None
        self._lock = threading.Lock()
        self.last_fix: str | None = None  # the fix for connect()'s last problem
        # An up or down of ours is under way: the live feed does not read the containers'
        # state meanwhile (the action says its own outcome), and reads it once it is over.
        self._acting = False

    def connect(self) -> str | None:
        """None when Docker answers; otherwise the sentence to show in the menu."""
        from logtray.stack.engine import connect
        from logtray.stack.manager import StackManager
        from logtray.stack.specs import resolve
        from logtray.stack.team import material_for
        from logtray.stack.topics import stack_topics

        try:
            client = connect()
        except LogtrayError as exc:
            self.last_fix = exc.fix
            return exc.message
        try:
            # The team profile's CA, certificate and logins, made once beside the config.
            team = material_for(self.config.stack, self.config.path.parent)
            specs = resolve(self.config.stack, self.config.listener, team, self.config.kinds)
        except LogtrayError as exc:  # a bad [stack] section: said in the menu, not a dead task
            client.close()
            self.last_fix = exc.fix
            return exc.message
        self.close()
        if self._manager is not None:
            self._manager.client.close()  # the engine went away and came back: a new client
        stack = self.config.stack
        self._manager = StackManager(
            client,
            stack.name,
            specs,
            pull=stack.pull,
            ready_timeout_s=stack.ready_timeout_s,
            check_resources=stack.preflight,
            topics=stack_topics(stack),
        )
        return None

    def _views(self, statuses: dict[str, Any]) -> tuple[ServiceView, ...]:
        order = [spec.name for spec in self._manager.specs]
        return tuple(
            ServiceView(name, statuses[name].state, statuses[name].describe())
            for name in order
            if name in statuses
        )

    def status(self) -> tuple[ServiceView, ...]:
        if self._manager is None:
            return ()
        try:
            return self._views(self._manager.status())
        except LogtrayError:
            raise
        except Exception as exc:  # the engine went away between two calls
            raise _lost(exc) from None

    def watch(self, on_change: OnServices, on_observation: OnObservation | None = None) -> None:
        """Follow Docker's events until the stream ends: Docker went away, or close().
        `on_observation` gets what stack/incidents.py needs from each event (a container's
        exit, OOM kill, health verdict, a stop that was asked for)."""
        if self._manager is None:
            return
        from logtray.stack.watcher import StatusWatcher, services_of

        holder: dict[str, Any] = {}

        def changed(service: str, status: Any) -> None:
            watcher = holder.get("watcher")
            if watcher is not None:
                on_change(self._views(watcher.snapshot()))

        def event(raw: Any) -> None:
            watcher = holder.get("watcher")
            if on_observation is not None and watcher is not None:
                observation = self._observe(raw, watcher)
                if observation is not None:
                    on_observation(observation)

        manager = self._manager

        def truth() -> Any:
            return None if self._acting else manager.status()

        with self._lock:
            try:
                self._watcher = StatusWatcher(
                    manager.client,
                    manager.name,
                    services_of(manager.specs),
                    changed,
                    event,
                    truth=truth,
                )
            except Exception as exc:
                raise _lost(exc) from None
            holder["watcher"] = watcher = self._watcher
        watcher.join()

    def _observe(self, event: Any, watcher: Any) -> Any:
        """The event as an incident Observation; a die or an unhealthy verdict is completed
        by inspecting the container (OOMKilled, the memory limit, the check's last output)."""
        from logtray.stack.incidents import observation_from_event
        from logtray.stack.labels import LABEL_SERVICE

        action = str(event.get("Action") or "")
        inspected = None
        if action == "die" or action.startswith("health_status: unhealthy"):
            try:
                inspected = self._manager.client.api.inspect_container(str(event.get("id")))
            except Exception:  # gone already (removed at once): the event alone must do
                log.debug("cannot inspect the container of %s", action, exc_info=True)
        service = str(((event.get("Actor") or {}).get("Attributes") or {}).get(LABEL_SERVICE))
        return observation_from_event(
            event, inspected, watcher.has_healthcheck(service), time.time()
        )

    def keep_logs(self, service: str, reason: str) -> None:
        """Save the service's last log lines (its container may be replaced by a Repair),
        so `logtray stack logs` still shows what happened."""
        from logtray.stack.saved_logs import KEEP_LINES

        manager = self._manager
        if manager is None:
            return
        try:
            container = manager.containers().get(service)
            if container is None:
                return
            lines = manager.log_tail(container, KEEP_LINES)
        except Exception:  # Docker went away: the notification still says what happened
            log.warning("cannot keep the last lines of %s", service, exc_info=True)
            return
        manager.saved_logs.save(service, reason, lines, what="stopped unexpectedly")

    def up(self, on_change: OnServices) -> LogtrayError | None:
        """Start the stack; None, or why alerts from it cannot reach us (sentence and fix)."""
        if self._manager is None:
            raise LogtrayError("Docker is not available", fix="`logtray doctor` checks it")
        try:
            return self._up(on_change)
        except LogtrayError:
            raise
        except Exception as exc:  # docker-py/requests errors: Docker went away mid-way
            raise _lost(exc) from None

    def _up(self, on_change: OnServices) -> LogtrayError | None:
        from logtray.stack.status import ABSENT

        statuses: dict[str, Any] = {spec.name: ABSENT for spec in self._manager.specs}
        lock = threading.Lock()

        def changed(service: str, status: Any) -> None:
            with lock:
                statuses[service] = status
                snapshot = dict(statuses)
            on_change(self._views(snapshot))

        from logtray.stack.kibana import prepare_stack_kibana

        self._manager.on_status = changed
        try:
            with self._action():
                result = self._manager.up(wait=True)
        finally:
            self._manager.on_status = None
        with self._lock:
            watcher = self._watcher
        if watcher is not None:
            # The live feed learns what up's own checks found: where the engine runs no health
            # checks (Podman without systemd) its events never say "healthy".
            watcher.adopt(result.statuses)
        try:
            prepare_stack_kibana(
                self._manager, self.config.kibana.url, self.config.kibana.data_view
            )
        except LogtrayError as exc:  # the stack runs; Discover just lacks its data view
            log.warning("Kibana data view: %s (%s)", exc.message, exc.fix or "")
        from logtray.stack.canary import check_stack

        canary = check_stack(self._manager)
        if canary is None or canary.ok:
            return None
        return LogtrayError(canary.message, fix=canary.fix)

    @contextlib.contextmanager
    def _action(self) -> Iterator[None]:
        """An up or down of ours: the live feed reconciles once it is over."""
        self._acting = True
        try:
            yield
        finally:
            self._acting = False
            with self._lock:
                watcher = self._watcher
            if watcher is not None:
                watcher.nudge()

    def check_alert_path(self) -> LogtrayError | None:
        """The canary (riemann container -> listener) now: None when it answers or cannot be
        sent (no riemann running), else why alerts cannot reach us."""
        if self._manager is None:
            return None
        from logtray.stack.canary import check_stack

        canary = check_stack(self._manager)
        if canary is None or canary.ok:
            return None
        return LogtrayError(canary.message, fix=canary.fix)

    def down(self) -> None:
        if self._manager is None:
            return
        try:
            with self._action():
                self._manager.down(volumes=False)
        except LogtrayError:
            raise
        except Exception as exc:
            raise _lost(exc) from None

    def logs(self, service: str, lines: int = 1000) -> str:
        if self._manager is None:
            raise LogtrayError("Docker is not available", fix="`logtray doctor` checks it")
        try:
            chunks = self._manager.logs(service, follow=False, tail=lines)
            return b"".join(chunks).decode("utf-8", errors="replace")
        except LogtrayError:
            raise
        except Exception as exc:
            raise _lost(exc) from None

    def es_url(self) -> str:
        """Where the stack's Elasticsearch answers on this machine (its published port)."""
        url = None
        if self._manager is not None:
            try:
                url = self._manager.published_url("elasticsearch", "9200/tcp")
            except Exception:  # Docker went away: the default port is the best guess
                log.debug("cannot read Elasticsearch's published port", exc_info=True)
        return url or "http://127.0.0.1:9200"

    def alerts_topic(self) -> str:
        """The topic the stack's Riemann keeps every alert on ("" for none: the lite profile,
        or [stack] alerts_topic emptied)."""
        from logtray.stack.specs import alerts_topic

        return alerts_topic(self.config.stack)

    def kafka_address(self) -> KafkaAddress:
        """Where the stack's readers on this machine (the lite engine, the heartbeat) reach its
        Kafka now: `[engine] bootstrap` when written, else the port the kafka container
        publishes (tray/base/kafka_address.py). Never raises: without an answer from the
        engine it is the default, said so."""
        engine, name = self.config.engine, self.config.stack.name
        written = self.config.written_in("engine", "bootstrap")
        port, absent = None, NOT_RUNNING
        manager = self._manager
        if written is None and manager is None:
            absent = "Docker is not available"
        elif written is None:
            from logtray.stack.published import published_port
            from logtray.stack.specs import KAFKA_HOST_PORT

            try:
                port = published_port(manager.client, manager.name, "kafka", KAFKA_HOST_PORT)
            except Exception as exc:  # Docker went away meanwhile: the default, said so
                log.debug("cannot read Kafka's published port", exc_info=True)
                absent = f"its container cannot be asked ({type(exc).__name__})"
        return choose_kafka(
            engine.bootstrap, written, port, container=f"{name}-kafka", absent=absent
        )

    def explain_refused_writes(self, message: Any) -> tuple[str, str, str]:
        """(title, cause, fix) for a pipeline message about writes Elasticsearch refused,
        with the disk's fill level where the engine runs here (which watermark was crossed)."""
        from logtray.stack.es_writes import Disk, explain
        from logtray.stack.preflight import engine_disk

        disk = None
        if self._manager is not None:
            try:
                found = engine_disk(self._manager.client.info())
                disk = Disk(*found) if found else None
            except Exception:  # the words still say what Elasticsearch said
                log.debug("cannot read the engine's disk", exc_info=True)
        return explain(
            message.problem,
            reason=message.reason,
            index=message.index,
            failed=message.failed,
            of=message.of,
            status=message.status,
            disk=disk,
            es_url=self.es_url(),
        )

    def clear_es_block(self) -> None:
        from logtray.stack.es_writes import clear_read_only_block

        clear_read_only_block(self.es_url())

    def close(self) -> None:
        with self._lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None


def _lost(exc: BaseException) -> LogtrayError:
    """A Docker call failed unexpectedly. Lost connection: the sentence `logtray stack` gives
    when it cannot connect; anything else: what Docker said, and where the details are."""
    import requests

    from logtray.stack.engine import docker_host, explain_connect_error
    from logtray.tray.base import paths

    log.warning("Docker call failed", exc_info=exc)
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError)):
        return explain_connect_error(docker_host(), exc)
    return LogtrayError(
        f"Docker failed: {type(exc).__name__}: {exc}", fix=f"details are in {paths.log_file()}"
    )
