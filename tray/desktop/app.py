"""The tray app: the alert service and the stack, driven from a tray icon.

Threads (docs/architecture.md): pystray owns the main thread; one asyncio loop runs in
a worker thread with the listener, the alert path and the stack control (its blocking
Docker calls go through asyncio.to_thread). State changes happen on the loop thread only and
reach the screen through TrayView.show; menu choices come back through `_on_action`, which
hands them to the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from logtray.stack.incidents import Incident, IncidentBook, Observation, Told
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.heartbeat import HeartbeatStatus
from logtray.tray.alerts.kibana import discover_url
from logtray.tray.alerts.pipeline import PipelineMessage
from logtray.tray.base import paths
from logtray.tray.base.config import Config, ensure_token
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.kafka_address import KafkaAddress, choose_kafka
from logtray.tray.delivery.notifiers.deferred import DeferredNotifier
from logtray.tray.delivery.opener import open_path, open_url
from logtray.tray.delivery.service import AlertService, url_prefixes
from logtray.tray.desktop import autostart, failure, incident_store
from logtray.tray.desktop.failure import Failure
from logtray.tray.desktop.stack_link import StackLink
from logtray.tray.desktop.state import (
    GOOD_SERVICE_STATES,
    AppState,
    RecentAlert,
    ServiceView,
    kibana_ready,
    phase_from_services,
)
from logtray.tray.desktop.traycheck import tray_problem

log = logging.getLogger(__name__)

REFRESH_DELAY_S = 0.3  # alerts arrive in floods; the tray redraws at most this often
SHIP_TICK_S = 2.0  # the menu's container line counts are read this often while shipping
# While Docker is away: reconnect after 1, 2, 4, 5, 5 … s, so its return shows within seconds.
# (While it is there nothing polls: the events stream ending is what says it went away.)
DOCKER_RETRY_FIRST_S = 1.0
DOCKER_RETRY_MAX_S = 5.0
# riemann.config repeats a refused-writes report every 5 minutes while it lasts: after this
# long without one, the problem is taken as over (quietly).
REFUSED_WRITES_QUIET_S = 15 * 60.0


def seconds_until_tomorrow(now: float, morning_hour: int = 8) -> float:
    """'Until tomorrow' means until tomorrow morning, local time."""
    today = dt.datetime.fromtimestamp(now)
    morning = (today + dt.timedelta(days=1)).replace(
        hour=morning_hour, minute=0, second=0, microsecond=0
    )
    return morning.timestamp() - now


def recent_alerts(
    entries: list[dict[str, Any]], config: Config, cleared_at: float, limit: int = 10
) -> tuple[RecentAlert, ...]:
    """Newest first, repeats of one key folded into one line with their count."""
    by_key: dict[str, RecentAlert] = {}
    for entry in entries:  # newest first
        if entry.get("received", 0) <= cleared_at:
            break
        alert = Alert.from_record(entry, url_prefixes(config))
        key = alert.key
        if key in by_key:
            seen = by_key[key]
            by_key[key] = dataclasses.replace(seen, count=seen.count + 1)
            continue
        if len(by_key) >= limit:
            continue
        received = float(entry.get("received", 0))
        url = alert.url or discover_url(config.kibana, alert, alert.time or received)
        caught_up = entry.get("told") == "caught up"
        by_key[key] = RecentAlert(
            # What was caught up is listed at its own time, not at the start that read it.
            (alert.time or received) if caught_up else received,
            alert.headline(),
            1,
            url,
            needs_kibana=not alert.url,
            alert=alert,
            caught_up=caught_up,
        )
    return tuple(by_key.values())


def count_since(entries: list[dict[str, Any]], since: float) -> int:
    return sum(1 for entry in entries if entry.get("received", 0) >= since)


class TrayApp:
    def __init__(self, config: Config, stack: StackLink | None = None) -> None:
        self.config = ensure_token(config)  # Riemann needs it; first run creates it
        self.stack = stack or StackLink(self.config)
        self.state = AppState(
            phase="unavailable",
            docker_problem="checking Docker…",
            profile=self.config.stack.profile,
            autostart=autostart.is_enabled(),
        )
        self._show: Callable[[AppState], None] = lambda state: None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.service: AlertService | None = None
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._seen_mark = 0
        self._cleared_at = 0.0
        self._busy = False
        # Stack services that exit, are OOM-killed, turn unhealthy or loop: told once each.
        self._incidents = IncidentBook()
        self._incident_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[Any]] = set()  # fire-and-forget work, kept referenced
        # Elasticsearch refusing writes (a pipeline message from riemann.config): told once.
        self._refused_writes: Incident | None = None
        self._refused_problem = ""
        self._refused_expiry: asyncio.TimerHandle | None = None
        # The stack's Kafka as the engine and the heartbeat reach it (read when it turns
        # healthy or its container starts: `_follow_kafka`); None until read, and while there
        # is no container.
        self.kafka: KafkaAddress | None = None
        self._kafka_runs = False
        self._kafka_in_stack = True
        self._kafka_lock = asyncio.Lock()
        # Shipping the chosen containers' output ([ship]) while the stack's Kafka runs.
        self.shipper: Any = None
        self._ship_ticker: asyncio.TimerHandle | None = None

    # -- running --------------------------------------------------------------------------------
    def run(self) -> int:
        problem = tray_problem()
        if problem:
            print(
                f"logtray: cannot show a tray icon: {problem}.\n"
                "  Running headless: alerts are still received and notified. "
                "`logtray doctor` checks what is missing.",
                file=sys.stderr,
            )
            asyncio.run(self._run_headless())
            return 0
        from logtray.tray.desktop.tray_view import TrayView

        view = TrayView(self._on_action)
        self._show = view.show
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        worker = threading.Thread(
            target=lambda: asyncio.run(self._main(started, view.stop)),
            name="logtray-loop",
            daemon=True,
        )
        log.info("tray backend: %s", view.backend)
        self._quit_on_signals()
        view.run(setup=worker.start)
        self.request_quit()
        worker.join(timeout=60)
        if started.done() and started.exception():
            raise started.exception()  # type: ignore[misc]
        return 0

    def _quit_on_signals(self) -> None:
        """SIGINT/SIGTERM quit cleanly; GTK's main loop runs in C, so ask GLib to watch them."""
        if sys.platform.startswith("linux"):
            try:
                from gi.repository import GLib

                def on_signal() -> bool:
                    self.request_quit()
                    return False

                for sig in (signal.SIGINT, signal.SIGTERM):
                    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, on_signal)
                return
            except (ImportError, AttributeError):
                pass
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, lambda *_: self.request_quit())

    async def _run_headless(self) -> None:
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_quit)
        await self._main(started, lambda: None)
        if started.exception():
            raise started.exception()  # type: ignore[misc]

    async def _main(
        self, started: concurrent.futures.Future[None], close_view: Callable[[], None]
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        deferred = self._deferred_notifier()
        self.service = AlertService(
            self.config,
            notifier=deferred,
            on_change=self._alerts_changed,
            on_pipeline=self._pipeline_message,
            on_heartbeat=self._heartbeat_changed,
        )
        if deferred is not None:
            deferred.actions = self.service.actions  # the popups' Show errors / editor actions
        try:
            # With Riemann, the stack's alerts topic is read once its Kafka is seen running:
            # its catch-up summary also counts what an earlier run kept but never told.
            await self.service.start(catch_up_expected=bool(self.stack.alerts_topic()))
        except BaseException as exc:
            started.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            close_view()
            return
        started.set_result(None)
        assert self.service.listener is not None
        where = ", ".join(f"{h}:{p}" for h, p in self.service.listener.addresses)
        print(
            f"logtray: listening on {where}; notifications: {self.service.notifier_name}",
            file=sys.stderr,
            flush=True,
        )
        self._set(listening=where)
        self._refresh_alerts()
        await asyncio.to_thread(incident_store.save, ())  # what an earlier run saw is over
        watch = asyncio.create_task(self._watch_stack())
        try:
            await self._stopping.wait()
        finally:
            watch.cancel()
            if self.config.tray.stop_stack_on_quit and self.state.phase not in (
                "stopped",
                "unavailable",
            ):
                with contextlib.suppress(Exception):
                    await self.service.stop_heartbeat()
                    await asyncio.to_thread(self.stack.down)
            await self._stop_shipping()
            await asyncio.to_thread(self.stack.close)
            await self.service.stop()
            close_view()

    def _deferred_notifier(self) -> DeferredNotifier | None:
        """Desktop notifications loaded at the first notice (light at idle), when a
        notification server is there; otherwise None: chosen at start, with its warning."""
        backend = self.config.notifier.backend
        if backend not in ("auto", "desktop"):
            return None
        if sys.platform.startswith("linux"):
            from logtray.tray.delivery.notifiers.linux_server import NOTIFICATIONS_NAME
            from logtray.tray.desktop.traycheck import bus_name_owned

            if not bus_name_owned(NOTIFICATIONS_NAME):
                return None
        return DeferredNotifier(
            backend,
            functools.partial(open_url, allowed_prefixes=url_prefixes(self.config)),
            expected="desktop",
        )

    def request_quit(self) -> None:
        """Thread-safe: stop the loop (and with it the app)."""
        loop, stopping = self._loop, self._stopping
        if loop and stopping and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)

    # -- state ------------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        """Change the state (loop thread only) and redraw."""
        previous = self.state
        self.state = dataclasses.replace(self.state, **changes)
        state = self.state
        if (state.phase, state.docker_problem) != (previous.phase, previous.docker_problem):
            why = f" ({state.docker_problem})" if state.phase == "unavailable" else ""
            log.info("stack phase: %s%s", state.phase, why)
        self._show(self.state)

    def _alerts_changed(self) -> None:
        if self._refresh_handle is None and self._loop:
            self._refresh_handle = self._loop.call_later(REFRESH_DELAY_S, self._refresh_alerts)

    def _refresh_alerts(self) -> None:
        self._refresh_handle = None
        if not self.service or not self.service.router:
            return
        router = self.service.router
        entries = router.history.recent()
        midnight = dt.datetime.combine(dt.date.today(), dt.time()).timestamp()
        notices: list[str] = []
        if router.history.problem:
            notices.append("Alert history not saved: kept in memory (see `logtray doctor`)")
        # A team's Kafka that refuses us (certificate, login, down): one line each.
        notices += [f"{source}: {text}" for source, text in self.service.kafka_problems.items()]
        self._set(
            notices=tuple(notices),
            recent=recent_alerts(entries, self.config, self._cleared_at),
            unseen=max(0, router.accepted - self._seen_mark),
            alerts_today=count_since(entries, midnight),
            snoozed_until=router.policy.snoozed_until,
            do_not_disturb=router.policy.do_not_disturb,
        )

    def _mark_seen(self) -> None:
        if self.service and self.service.router:
            self._seen_mark = self.service.router.accepted
        self._refresh_alerts()

    # -- the stack --------------------------------------------------------------------------------
    async def _watch_stack(self) -> None:
        """Follow the stack's status from Docker's events; when the stream ends (Docker went
        away), reconnect with backoff. Losing Docker and getting it back are both notified."""
        delay = DOCKER_RETRY_FIRST_S
        connected = False  # Docker answered since the last loss (a loss is then news)
        lost = False  # we said Docker went away: say when it is back
        while True:
            problem = await asyncio.to_thread(self.stack.connect)
            services: tuple[ServiceView, ...] = ()
            fix = self.stack.last_fix
            if problem is None:
                try:
                    services = await asyncio.to_thread(self.stack.status)
                except LogtrayError as exc:
                    problem, fix = exc.message, exc.fix
            if problem is not None:
                if connected:
                    connected, lost = False, True
                    await self._failed(Failure("docker", "Docker went away", problem, fix))
                self._set(phase="unavailable", docker_problem=problem)
                await asyncio.sleep(delay)
                delay = min(delay * 2, DOCKER_RETRY_MAX_S)
                continue
            delay, connected = DOCKER_RETRY_FIRST_S, True
            self._services_changed(services)
            failure.clear("docker")  # also one kept from an earlier run: Docker is here now
            if lost:
                lost = False
                await self._notify("docker", "logtray: Docker is back", "The stack can be used.")
            followed = time.monotonic()
            try:
                await asyncio.to_thread(
                    self.stack.watch, self._services_changed_elsewhere, self._observed_elsewhere
                )
            except LogtrayError as exc:
                log.info("Docker events stream: %s", exc.message)
            log.info("the Docker events stream ended; reconnecting")
            if time.monotonic() - followed < DOCKER_RETRY_FIRST_S:
                await asyncio.sleep(DOCKER_RETRY_FIRST_S)  # a stream that ends at once: no spin

    def _services_changed_elsewhere(self, services: tuple[ServiceView, ...]) -> None:
        """From Docker's threads: hand the change to the loop."""
        if self._loop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._services_changed, services)

    def _observed_elsewhere(self, observation: Observation) -> None:
        """From Docker's thread: a container event that may open or close an incident."""
        if self._loop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._observed, observation)

    def _observed(self, observation: Observation) -> None:
        if observation.service == "kafka" and observation.kind == "started":
            self._spawn(self._follow_kafka(turned_good=False))  # maybe on another port now
        if self._busy and observation.kind in ("died", "unhealthy"):
            return  # our own start or stop is under way: its outcome is told by itself
        self._tell(self._incidents.observe(observation))

    def _incident_tick(self) -> None:
        self._incident_timer = None
        self._tell(self._incidents.tick(time.time()))

    def _tell(self, told: list[Told]) -> None:
        """Notify each incident opened or ended, keep a failed service's last lines, show
        the open ones in the menu and keep them for `logtray doctor`."""
        for item in told:
            title, body = item.notification()
            log.warning("%s: %s", title.removeprefix("logtray: "), body.replace("\n", "; "))
            # One notification per service, so "recovered" replaces its problem in place.
            self._spawn(self._notify(f"service:{item.incident.service}", title, body))
            if item.kind == "problem":
                service, cause = item.incident.service, item.incident.cause
                self._spawn(asyncio.to_thread(self.stack.keep_logs, service, cause))
        self._show_incidents()
        if self._incident_timer is not None:
            self._incident_timer.cancel()
            self._incident_timer = None
        deadline = self._incidents.next_deadline()
        if deadline is not None and self._loop is not None:
            delay = max(0.0, deadline - time.time())
            self._incident_timer = self._loop.call_later(delay, self._incident_tick)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _show_incidents(self) -> None:
        open_now = self._incidents.open()
        if self._refused_writes is not None:
            open_now += (self._refused_writes,)
        lines = tuple(i.menu_line() for i in open_now)
        unblock = self._refused_problem in ("flood_stage", "blocked")
        if lines != self.state.incidents or unblock != self.state.es_unblock:
            self._set(incidents=lines, es_unblock=unblock)
            incident_store.save(open_now)

    # -- writes Elasticsearch refuses (pipeline messages from riemann.config) ---------------------
    def _pipeline_message(self, message: PipelineMessage) -> None:
        """On the loop (from the listener): told once while the problem lasts."""
        if self._refused_expiry is not None:
            self._refused_expiry.cancel()
        if self._loop is not None:
            self._refused_expiry = self._loop.call_later(
                REFUSED_WRITES_QUIET_S, self._refused_writes_over
            )
        if self._refused_problem == message.problem:
            return  # told already (or being told: the words are still being put together)
        self._refused_problem = message.problem
        self._spawn(self._tell_refused_writes(message))

    async def _tell_refused_writes(self, message: PipelineMessage) -> None:
        title, cause, fix = await asyncio.to_thread(self.stack.explain_refused_writes, message)
        self._refused_writes = Incident(message.source, "writes", cause, fix, time.time())
        log.warning("%s: %s (fix: %s)", title, cause, fix)
        self._show_incidents()
        await self._notify(
            f"pipeline:{message.source}", f"logtray: {title}", f"{cause}\nfix: {fix}"
        )

    def _refused_writes_over(self) -> None:
        self._refused_expiry = None
        self._refused_writes, self._refused_problem = None, ""
        self._show_incidents()

    async def _clear_es_block(self) -> None:
        """The Repair the refused-writes notification offers: lift the read-only block."""
        try:
            await asyncio.to_thread(self.stack.clear_es_block)
        except LogtrayError as exc:
            await self._failed(Failure("stack", "Repair failed", exc.message, exc.fix))
            return
        self._refused_writes_over()
        await self._notify(
            "pipeline:elasticsearch",
            "logtray: Elasticsearch's read-only block is cleared",
            "New logs are stored again; past the flood-stage watermark (95 % disk) it blocks "
            "them again.",
        )

    def _services_changed(self, services: tuple[ServiceView, ...]) -> None:
        self._start_engine_when_kafka_runs(services)
        if services and all(s.state == "absent" for s in services) and self._incidents.open():
            self._incidents.clear()  # the stack was taken down: nothing is failing any more
            self._show_incidents()
        phase = phase_from_services(services, self._busy)
        self._prove_alerts_while_running(phase)
        progress = self.state.progress if self._busy else None
        if self._busy:
            moving = [s for s in services if s.state in ("pulling", "starting")]
            if moving:
                progress = ", ".join(f"{s.name} {s.text}" for s in moving)
        self._set(services=services, phase=phase, docker_problem=None, progress=progress)

    def _start_engine_when_kafka_runs(self, services: tuple[ServiceView, ...]) -> None:
        """No Riemann in the lite profile: the embedded rule engine reads the stack's Kafka
        instead. It starts once Kafka runs (then follows it, reconnecting by itself), so an
        idle tray does not load aiokafka (~16 MB) nor knock on a broker that is not there.
        Where Kafka is published is read each time it turns healthy, and each time its
        container starts (`_observed`): a recreated container may come back on another port."""
        kafka = next((s for s in services if s.name == "kafka"), None)
        self._kafka_in_stack = kafka is not None
        runs = kafka is not None and kafka.state in GOOD_SERVICE_STATES
        turned_good, self._kafka_runs = runs and not self._kafka_runs, runs
        if kafka is None or kafka.state in ("absent", "exited", "pulling"):
            self.kafka = None  # no container to read: the heartbeat waits for the next read
            if self.service is not None:
                self.service.stack_kafka = None  # a kind's Resolve says it is not running
            if self.service is not None and self.service.stack_alerts_running:
                # Nothing to read until it runs again; the position stays committed.
                self._spawn(self.service.stop_stack_alerts())
            if self.shipper is not None:
                self._spawn(self._stop_shipping())  # positions kept: read on when it is back
        elif turned_good:
            self._spawn(self._follow_kafka(turned_good=True))

    async def _follow_kafka(self, turned_good: bool) -> None:
        """Read where the stack's Kafka is (tray/base/kafka_address.py); start the engine there
        once Kafka `turned_good`; move the engine and the heartbeat there when it changed
        (also when its container just started: the old address is gone then)."""
        async with self._kafka_lock:  # one read and move at a time, the newest last
            address = await asyncio.to_thread(self.stack.kafka_address)
            service = self.service
            if service is None or (turned_good and not self._kafka_runs):
                return  # it stopped meanwhile: read again when it runs
            if address.source == "default" and (service.engine is not None or not turned_good):
                return  # the container is gone again (or Docker is): keep what runs
            if address != self.kafka:
                log.info("Kafka for the engine and the heartbeat: %s", address.describe())
            self.kafka = address
            service.stack_kafka = address.bootstrap  # where a kind's Resolve writes
            if self.config.stack.profile == "lite":
                if service.engine is None and turned_good:
                    log.info("kafka runs: starting the embedded rule engine")
                    try:
                        service.start_engine(address.bootstrap)
                    except LogtrayError as exc:  # e.g. [engine] ssl_cafile cannot be read
                        service.kafka_problems["engine"] = exc.message
                        self._refresh_alerts()
                elif service.engine is not None:
                    await service.move_engine(address.bootstrap)
            elif service.stack_alerts_running or turned_good:
                # Riemann keeps every alert on the stack's alerts topic: read from this
                # desktop's position, so what came while the tray was closed is told now.
                topic = self.stack.alerts_topic()
                if topic:
                    service.start_stack_alerts(address.bootstrap, topic)
            beats = service.heartbeat
            # Moved: it ran, it goes on at the new address. Started there before Kafka took
            # anything (its container had just started): again now, not an interval later.
            if beats is not None and (
                service.heartbeat_bootstrap != address.bootstrap or (turned_good and not beats.sent)
            ):
                await service.stop_heartbeat()
                self._start_heartbeat(address)
            self._prove_alerts_while_running(self.state.phase)
            await self._ship_to(address)

    # -- shipping containers' logs ----------------------------------------------------------------
    async def _ship_to(self, address: KafkaAddress) -> None:
        """Ship the chosen containers' output to the stack's Kafka (again, when it moved)."""
        if not self.config.ship.enabled:
            return
        if self.shipper is not None and self.shipper.bootstrap == address.bootstrap:
            return
        await self._stop_shipping()
        from logtray.tray.desktop.shipping import start_shipper

        try:
            self.shipper = await asyncio.to_thread(start_shipper, self.config, address.bootstrap)
        except LogtrayError as exc:  # e.g. [engine] ssl_cafile cannot be read
            self._set(shipping_problem=exc.message)
            return
        log.info("shipping the chosen containers' output to %s", address.describe())
        self._ship_tick()

    def _ship_tick(self) -> None:
        """The menu's container lines, every few seconds while shipping."""
        shipper = self.shipper
        if shipper is None or self._loop is None:
            return
        from logtray.tray.desktop.shipping import views

        shipping = views(shipper.snapshot())
        if (shipping, shipper.problem) != (self.state.shipping, self.state.shipping_problem):
            self._set(shipping=shipping, shipping_problem=shipper.problem)
        self._ship_ticker = self._loop.call_later(SHIP_TICK_S, self._ship_tick)

    async def _stop_shipping(self) -> None:
        shipper, self.shipper = self.shipper, None
        if self._ship_ticker is not None:
            self._ship_ticker.cancel()
            self._ship_ticker = None
        if shipper is not None:
            await asyncio.to_thread(shipper.stop)

    def _stack_kafka(self) -> KafkaAddress | None:
        """The stack's Kafka for the heartbeat: as read when it started to run; None while
        that is being read. A stack without a kafka service: [engine] bootstrap."""
        if self._kafka_in_stack:
            return self.kafka
        engine = self.config.engine
        written = self.config.written_in("engine", "bootstrap")
        return choose_kafka(engine.bootstrap, written, None, absent="the stack has no kafka")

    # -- the heartbeat ----------------------------------------------------------------------------
    def _prove_alerts_while_running(self, phase: str) -> None:
        """Heartbeats from the moment the whole stack runs until it is stopped (a stop the user
        asked for is never "not proven"); a service that fails meanwhile is what they catch."""
        service = self.service
        if service is None:
            return
        if phase == "healthy" and service.heartbeat is None:
            kafka = self._stack_kafka()
            if kafka is None:
                return  # Kafka's address is being read: `_follow_kafka` starts it then
            self._start_heartbeat(kafka)
        elif phase in ("stopping", "stopped", "unavailable") and service.heartbeat is not None:
            self._spawn(service.stop_heartbeat())
            self._set(alerts_proof=None, alerts_unproven=False)

    def _start_heartbeat(self, kafka: KafkaAddress) -> None:
        if self.service is not None:
            rule = "the engine" if self.config.stack.profile == "lite" else "Riemann"
            self.service.start_heartbeat(kafka.bootstrap, self.config.engine.topic, rule)

    def _heartbeat_changed(self, status: HeartbeatStatus, before: HeartbeatStatus | None) -> None:
        """The menu's line; one notification when two heartbeats were missed, one when proven
        again."""
        self._set(alerts_proof=status.line, alerts_unproven=status.failing)
        if status.failing and not (before and before.failing):
            self._spawn(self._alerts_unproven(status))
        elif before is not None and before.failing and not status.failing:
            failure.clear("heartbeat")
            self._spawn(self._notify("heartbeat", "logtray: alerts are proven again", status.line))

    async def _alerts_unproven(self, status: HeartbeatStatus) -> None:
        hop, fix = status.hop, status.fix
        if self.config.stack.profile != "lite" and not hop.startswith("Kafka"):
            # Riemann did not answer: is it the rule, or the way from its container to us?
            path = await asyncio.to_thread(self.stack.check_alert_path)
            if path is not None:
                hop, fix = f"the listener is not reached: {path.message}", path.fix or fix
        await self._failed(Failure("heartbeat", "Alerts are not proven", hop, fix))

    async def _stack_up(self) -> None:
        alert_path = await self._stack_action(
            "start", self.stack.up, self._services_changed_elsewhere
        )
        if isinstance(alert_path, LogtrayError):  # the stack runs, but its alerts cannot reach us
            problem = Failure(
                "stack", "Alerts cannot reach logtray", alert_path.message, alert_path.fix
            )
            log.warning("alert path: %s", alert_path.message)
            self._set(last_error=problem.menu_line())
            await self._failed(problem)

    async def _stack_down(self) -> None:
        if self.service:  # a stop the user asked for is never "alerts not proven"
            await self.service.stop_heartbeat()
            self._set(alerts_proof=None, alerts_unproven=False)
        await self._stack_action("stop", self.stack.down)
        self._incidents.clear()  # a stop the user asked for ends every incident, untold
        if self._refused_writes is not None:
            self._refused_writes_over()  # (it redraws)
        self._show_incidents()

    async def _stack_action(self, verb: str, call: Callable[..., object], *args: Any) -> object:
        """Start (or repair: start what is missing) or stop the stack; a failure is notified
        once, shown by the icon and summed up in the menu. Returns what the call returned."""
        if self._busy:
            return None
        what = {"start": "Start stack failed", "stop": "Stop stack failed"}[verb]
        if verb == "start" and self.state.phase == "degraded":
            what = "Repair stack failed"
        self._busy = True
        if verb == "start":
            self._set(phase="starting", progress="preparing images", last_error=None)
        else:
            self._set(phase="stopping", progress="stopping the stack", last_error=None)
        problem: Failure | None = None
        result: object = None
        try:
            result = await asyncio.to_thread(call, *args)
        except LogtrayError as exc:
            problem = Failure("stack", what, exc.message, exc.fix)
        except Exception as exc:  # a bug: still seen, with where the traceback is
            log.exception("stack %s failed", verb)
            problem = Failure(
                "stack", what, f"{type(exc).__name__}: {exc}", f"details are in {paths.log_file()}"
            )
        finally:
            self._busy = False
        if problem is None:
            failure.clear("stack")
        else:
            log.warning("%s: %s", what, problem.message)
            self._set(last_error=problem.menu_line())
            await self._failed(problem)
        try:
            self._services_changed(await asyncio.to_thread(self.stack.status))
        except LogtrayError as exc:
            self._set(phase="unavailable", docker_problem=exc.message, progress=None)
        return result

    async def _failed(self, problem: Failure) -> None:
        """Keep the failure for `logtray doctor` and raise one notification with its words."""
        problem = dataclasses.replace(problem, at=time.time())
        await asyncio.to_thread(failure.save, problem)
        title, body = problem.notification()
        await self._notify(problem.key, title, body)

    async def _notify(self, key: str, title: str, body: str) -> None:
        """A notification of the app's own (not an alert: snooze does not hold it back); one
        per key, updated in place."""
        router = self.service.router if self.service else None
        if router is None:
            return
        from logtray.tray.alerts.policy import Notice

        notice = Notice(f"logtray:{key}", title, body, None, 1, replaces=True)
        try:
            await router.notifier.show(notice)
        except Exception:  # a notification server that went away must not stop the app
            log.warning("cannot show the notification %r", title, exc_info=True)

    async def _show_logs(self, service: str) -> None:
        path = paths.log_dir() / f"{service}.log"
        try:
            text = await asyncio.to_thread(self.stack.logs, service)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except LogtrayError as exc:
            self._set(last_error=f"Show logs failed: {exc.message}")
            return
        except OSError as exc:
            self._set(last_error=f"Show logs failed: cannot write {path}: {exc.strerror}")
            return
        open_path(path)

    # -- menu actions (called on the GUI thread; run on the loop) ----------------------------------
    def _on_action(self, action: str) -> None:
        loop = self._loop
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.dispatch(action), loop)
        future.add_done_callback(_log_failure(action))

    def _open_recent(self, recent: RecentAlert) -> None:
        """Kibana Discover when it can answer (or the alert's own link); else the error view."""
        kibana = kibana_ready(self.state)
        if recent.url and (kibana or not recent.needs_kibana):
            open_url(recent.url, url_prefixes(self.config))
        elif recent.alert is not None and self.service is not None:
            self.service.actions.show_errors(recent.alert, kibana_running=False)

    async def dispatch(self, action: str) -> None:
        name, _, arg = action.partition(":")
        router = self.service.router if self.service else None
        if name == "stack.start":
            await self._stack_up()
        elif name == "stack.stop":
            await self._stack_down()
        elif name == "es.unblock":
            await self._clear_es_block()
        elif name == "service.logs":
            await self._show_logs(arg)
        elif name == "kibana.open":
            open_url(
                self.config.kibana.url.rstrip("/") + "/app/discover#/", url_prefixes(self.config)
            )
            self._mark_seen()
        elif name == "alert.open":
            index = int(arg)
            if index < len(self.state.recent):
                self._open_recent(self.state.recent[index])
            self._mark_seen()
        elif name == "alerts.clear":
            self._cleared_at = time.time()
            self._mark_seen()
        elif name == "snooze" and router:
            now = time.time()
            seconds = seconds_until_tomorrow(now) if arg == "tomorrow" else float(arg)
            router.snooze(seconds)
            self._refresh_alerts()
        elif name == "resume" and router:
            router.resume()
            self._refresh_alerts()
        elif name == "dnd.toggle" and router:
            router.set_do_not_disturb(not router.policy.do_not_disturb)
            self._refresh_alerts()
        elif name == "autostart.toggle":
            await asyncio.to_thread(autostart.toggle)
            self._set(autostart=autostart.is_enabled())
        elif name == "settings.open":
            open_path(self.config.path)
        elif name == "quit":
            self.request_quit()
        else:
            log.warning("unknown menu action %r", action)


def _log_failure(action: str) -> Callable[[concurrent.futures.Future[None]], None]:
    def done(future: concurrent.futures.Future[None]) -> None:
        # The one error boundary for menu callbacks: log it, never crash the app.
        exc = future.exception()
        if exc is not None:
            log.error("menu action %s failed", action, exc_info=exc)

    return done
