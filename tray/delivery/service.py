"""The alert service: listener -> router (history, policy, notifier), as one lifecycle.

The headless `logtray listen` runs it alone; the tray app runs it beside the stack manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from logtray.pipeline.kinds import KnownKind
from logtray.tray.alerts.alert import Alert, parse_time
from logtray.tray.alerts.alerts_topic import CaughtUp, run_alerts_topic
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.engine_reader import EngineReader
from logtray.tray.alerts.event_time import MAX_AGE_S
from logtray.tray.alerts.heartbeat import (
    HeartbeatMonitor,
    HeartbeatStatus,
    answered_id,
    heartbeat_tap,
    run_heartbeat,
    save_report,
)
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.alerts.kafka_source import (
    Records,
    Resume,
    consume_forever,
    describe_kafka_error,
    security_options,
)
from logtray.tray.alerts.kibana import discover_url
from logtray.tray.alerts.kind_alerts import KindWatch
from logtray.tray.alerts.kinds_topic import (
    KindKeeper,
    commanded,
    ensure_topic,
    read_kinds,
    read_recent,
)
from logtray.tray.alerts.listener import AlertListener, PipelineSink
from logtray.tray.alerts.policy import AlertPolicy, Notice
from logtray.tray.alerts.publisher import AlertPublisher
from logtray.tray.alerts.subscription import Subscription, subscription_from
from logtray.tray.base import paths
from logtray.tray.base.config import AlertsTopicConfig, Config
from logtray.tray.base.hosts import default_hosts
from logtray.tray.base.links import allowed_prefixes
from logtray.tray.delivery.actions import AlertActions
from logtray.tray.delivery.notifiers import Notifier
from logtray.tray.delivery.notifiers.select import select_notifier
from logtray.tray.delivery.opener import open_url
from logtray.tray.delivery.router import AlertRouter

log = logging.getLogger(__name__)


def _link(config: Config, alert: Alert | None, at: float) -> str | None:
    return discover_url(config.kibana, alert, at)


def url_prefixes(config: Config) -> tuple[str, ...]:
    """What an alert's own url may point to (tray.links): Kibana, then the allow-list."""
    return allowed_prefixes(config.kibana.url, config.kibana.allowed_url_prefixes)


_READER_ID = re.compile(r"[0-9a-f]{32}")


def reader_group(role: str) -> str:
    """This desktop's own Kafka consumer group for `role` ("alerts", "engine"): it holds
    nothing but the read positions, so the id is random, made once beside the history (the
    two are what lets a restart resume), and shared with no other desktop."""
    path = paths.data_dir() / "reader-id"
    with contextlib.suppress(OSError):
        with open(path, "rb") as file:
            found = file.read(64).decode("ascii", "replace").strip()
        if _READER_ID.fullmatch(found):
            return f"logtray-{role}-{found}"
    made = secrets.token_hex(16)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(made + "\n")
        os.replace(path.with_suffix(".tmp"), path)
    except OSError as exc:
        log.warning(
            "cannot keep the Kafka reading position id in %s (%s): this run reads on from a "
            "fresh position",
            path,
            exc.strerror or exc,
        )
    return f"logtray-{role}-{made}"


# The source name of the stack's own alerts topic (kafka_problems, the menu).
STACK_ALERTS = "stack alerts"

# How often a running service notes that it was there (the "while you were away" time).
SEEN_EVERY_S = 60.0
# How long a start waits for a reader's catch-up, so that the alerts an earlier run kept but
# never told are counted in its one summary (a Kafka that is down: in a summary of their own).
UNTOLD_WAIT_S = 30.0


def read_last_seen(now: float) -> float | None:
    """When a service last noted it ran (epoch seconds), or None: unknown, unreadable, or not
    in the past."""
    try:
        with open(paths.data_dir() / "last-seen", "rb") as file:
            seen = float(file.read(32).decode("ascii", "replace").strip())
    except (OSError, ValueError):
        return None
    return seen if 0 < seen <= now else None


def write_last_seen(now: float) -> None:
    path = paths.data_dir() / "last-seen"
    with contextlib.suppress(OSError):  # only the summary's "away" time depends on it
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(f"{int(now)}\n")  # never ahead of the clock that reads it
        os.replace(tmp, path)


class AlertService:
    def __init__(
        self,
        config: Config,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
        on_pipeline: PipelineSink | None = None,
        on_heartbeat: Callable[[HeartbeatStatus, HeartbeatStatus | None], None] | None = None,
    ) -> None:
        self.config = config
        # The heartbeat (tray/alerts/heartbeat.py): its monitor while it runs; `on_heartbeat`
        # hears each change of what it says (new status, previous one).
        self.heartbeat: HeartbeatMonitor | None = None
        self._heartbeat_rule = "the rule"
        self._heartbeat_stop: asyncio.Event | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._heartbeat_said: HeartbeatStatus | None = None
        self._on_heartbeat = on_heartbeat
        self.accept: Callable[..., Any]  # the router's accept behind the heartbeat tap
        self._notifier = notifier
        self._clock = clock
        self._on_change = on_change
        self._on_pipeline = on_pipeline  # the stack's own plumbing (tray/alerts/pipeline.py)
        self.router: AlertRouter | None = None
        self.listener: AlertListener | None = None
        # Kafka sources feeding the same router: the alerts topic, the embedded rule engine.
        self._sources_stop = asyncio.Event()
        self._sources: list[asyncio.Task[object]] = []
        self.engine: RuleEngine | None = None
        self.engine_reader: EngineReader | None = None
        # Error kinds (tray/alerts/kind_alerts.py) and where they are kept (kinds_topic.py).
        self.kinds: KindWatch | None = None
        self.kind_keeper: KindKeeper | None = None
        self._kinds_loaded = False
        # When this desktop last ran (the "while you were away" time), read once at start.
        self._started_at = clock()
        self._last_seen = read_last_seen(self._started_at)
        self._seen_started = False
        # A reader that catches up was started with this start; the wait for it.
        self._catching_up = False
        self._untold_timer: asyncio.TimerHandle | None = None
        self.publisher: AlertPublisher | None = None
        # Where the engine reads the logs now (move_engine moves it), its clients and their stop.
        self.engine_bootstrap: str | None = None
        self._engine_tasks: list[asyncio.Task[object]] = []
        self._engine_stop: asyncio.Event | None = None
        # Where the heartbeat writes its records while it runs.
        self.heartbeat_bootstrap: str | None = None
        # What this desktop wants of the alerts topic (and how many it did not).
        self.subscription: Subscription | None = None
        # The stack's own alerts topic (full and team profiles): where its reader reads now,
        # the reader and its stop (`start_stack_alerts`).
        self.stack_alerts_bootstrap: str | None = None
        self._stack_alerts_task: asyncio.Task[object] | None = None
        self._stack_alerts_stop: asyncio.Event | None = None
        # The Kafka sources' problems, for the menu: source -> the sentence said once.
        self.kafka_problems: dict[str, str] = {}
        # Where the stack's Kafka is while it runs (the tray and `logtray listen` set it): a
        # kind alert's Resolve writes to its kinds topic when no engine runs here (full profile).
        self.stack_kafka: str | None = None
        # The popup's actions (Show errors, Open in Kibana, Open in editor, Resolve).
        self.actions = AlertActions(
            config, functools.partial(open_url, allowed_prefixes=url_prefixes(config))
        )
        self.actions.set_stack_kafka(lambda: self.stack_kafka)
        self._telling: set[asyncio.Task[None]] = set()

    async def start(self, listen: bool = True, catch_up_expected: bool = False) -> None:
        """`catch_up_expected`: a reader that catches up is started later, not with this start
        (the tray reads the stack's alerts topic once it sees the stack's Kafka run): what an
        earlier run never told waits for its summary (at most UNTOLD_WAIT_S)."""
        config = self.config
        prefixes = url_prefixes(config)
        notifier = self._notifier or await select_notifier(
            config.notifier.backend,
            functools.partial(open_url, allowed_prefixes=prefixes),
            self.actions,
        )
        # Never fails: a history file that cannot be used is said once, alerts kept in memory.
        history = AlertHistory(paths.history_file(), config.alerts.history_size, prefixes)
        policy = AlertPolicy(config.alerts, functools.partial(_link, config))
        self.router = AlertRouter(policy, history, notifier, self._clock, self._on_change)
        loop = asyncio.get_running_loop()
        self.actions.set_tell(
            lambda title, body: loop.call_soon_threadsafe(self._tell, "action", title, body)
        )
        # Every path into the router passes the tap: heartbeat answers stop there.
        self.accept = heartbeat_tap(self.router.accept, self._heartbeat_answered)
        if listen:
            self.listener = AlertListener(config.listener, self.accept, prefixes, self._on_pipeline)
            hosts, optional = default_hosts(config.listener.hosts)
            try:
                await self.listener.start(hosts, optional)
            except BaseException:
                await self.router.aclose()
                raise
        if config.alerts_topic.enabled:
            try:
                self.subscription = subscription_from(config.alerts_topic)
                security_options(config.alerts_topic)  # a CA file that cannot be read: now
            except BaseException:
                await self.stop()
                raise
            self._sources.append(
                asyncio.create_task(
                    run_alerts_topic(
                        config.alerts_topic,
                        self.accept,
                        self._sources_stop,
                        url_prefixes=prefixes,
                        on_status=self._source_status("team alerts"),
                        subscription=self.subscription,
                        clock=self._clock,
                        resume=Resume(reader_group("alerts"), self._durable),
                        on_caught_up=self._caught_up,
                        max_age_s=config.alerts.catch_up_max_age,
                        max_records=config.alerts.catch_up_max_records,
                    )
                )
            )
            self._catching_up = True
            self._start_seen()
        self._catching_up = self._catching_up or catch_up_expected
        # After whatever the caller starts next at once (`logtray listen`: the stack's alerts).
        asyncio.get_running_loop().call_soon(self._untold_after_start)

    def _untold_after_start(self) -> None:
        """The alerts an earlier run kept but never told (it died between the two) go in the
        first catch-up summary of a reader started with this start; with none, or one that
        does not catch up within UNTOLD_WAIT_S, in a summary of their own."""
        if self.router is None or not self.router.untold:
            return
        if self._catching_up:
            loop = asyncio.get_running_loop()
            self._untold_timer = loop.call_later(UNTOLD_WAIT_S, self._tell_untold)
        else:
            self._tell_untold()

    def _tell_untold(self) -> None:
        self._untold_timer = None
        if self.router is not None:
            seen = self._last_seen
            self.router.tell_untold(None if seen is None else self._started_at - seen)

    def start_engine(self, bootstrap: str | None = None) -> RuleEngine:
        """Run the embedded rule engine (lite profile) into this service's router, reading the
        logs at `bootstrap` (default: [engine] bootstrap; the tray passes the stack's Kafka)."""
        assert self.router is not None, "start() first"
        accept = self.accept
        engine_config = self.config.engine
        security_options(engine_config)  # a CA file that cannot be read: now, before anything

        def on_alert(alert: Alert) -> None:
            # A heartbeat's answer is this desktop's own proof: never published to the team.
            publisher = self.publisher
            if publisher is not None and answered_id(alert) is None:
                publisher.publish(alert)
            accept(alert, "engine", time.perf_counter())

        # It reads on from its own committed position: what was logged while it was stopped
        # is evaluated on start (tray/alerts/engine_reader.py).
        reader = self.engine_reader = EngineReader(
            engine_config.window_s, engine_config.throttle_s, self._clock
        )
        for entry in reversed(self.router.history.recent()):
            moment = parse_time(entry.get("time"))
            spike = entry.get("kind") is None  # an error kind's alert is not a spike's
            if (
                spike
                and entry.get("peer") == "engine"
                and isinstance(entry.get("pathname"), str)
                and moment
            ):
                reader.told_before(entry["pathname"], moment)
        kinds = None
        if self.config.kinds.enabled:
            # Error kinds beside the spike rule, through the same gate (warm-up, repeats).
            kinds = self.kinds = KindWatch(
                self.config.kinds, reader.accepting(on_alert), self._keep_kinds, self._clock
            )
            # A popup's action runs in a worker thread: the book changes on the loop only.
            loop, set_state = asyncio.get_running_loop(), kinds.set_state
            self.actions.set_kinds(
                lambda service, kind_id, state: loop.call_soon_threadsafe(
                    set_state, service, kind_id, state
                )
            )
        engine = RuleEngine(engine_config, reader.accepting(on_alert), self._clock, kinds)
        self.engine = engine
        self.actions.set_records(engine.rule.records)
        self._start_seen()
        self._engine_kafka(bootstrap or engine_config.bootstrap)
        return engine

    async def move_engine(self, bootstrap: str) -> None:
        """Read the logs (and publish, with [engine] publish) at `bootstrap` from now on: the
        stack's Kafka came back on another port. The rule and what it holds stay."""
        if self.engine is None or bootstrap == self.engine_bootstrap:
            return
        log.info("the engine moves from Kafka at %s to %s", self.engine_bootstrap, bootstrap)
        old_tasks, old_stop = self._engine_tasks, self._engine_stop
        for source in ("engine", "publishing"):
            self.kafka_problems.pop(source, None)  # said of the old address
        # The new clients first: the old ones may take seconds to let go of a broker that is
        # gone (aiokafka's stop waits on its fetches); returns once they have.
        self._engine_kafka(bootstrap)
        await _stop_tasks(old_tasks, old_stop)

    def _engine_kafka(self, bootstrap: str) -> None:
        """The engine's Kafka clients at `bootstrap`: the logs' consumer, and the publisher of
        its alerts to [alerts_topic] topic with [engine] publish; one stop for both."""
        engine_config = self.config.engine
        assert self.engine is not None and self.engine_reader is not None
        reader = self.engine_reader
        options = security_options(engine_config)
        stop = self._engine_stop = asyncio.Event()
        self.engine_bootstrap = bootstrap
        tasks: list[asyncio.Task[object]] = []
        if engine_config.publish:
            publisher = AlertPublisher(
                bootstrap,
                self.config.alerts_topic.topic,
                options,
                on_status=self._source_status("publishing"),
            )
            self.publisher = publisher
            tasks.append(asyncio.create_task(publisher.run(stop)))
        consume = consume_forever(
            engine_config.topic,
            bootstrap,
            reader.feeding(self.engine.on_records),
            stop,
            options=options,
            on_status=self._source_status("engine"),
            on_start=reader.on_start,
            resume=Resume(reader_group("engine"), self._durable),
        )
        if self.kinds is not None:
            keeper = KindKeeper(
                bootstrap,
                self.config.kinds.topic,
                options,
                on_status=self._source_status("error kinds"),
            )
            if self.kind_keeper is not None:  # what the old address had not taken yet
                keeper.take_over(self.kind_keeper)
            self.kind_keeper = keeper
            tasks.append(asyncio.create_task(keeper.run(stop)))
            tasks.append(asyncio.create_task(self._kinds_ticks(stop)))
            consume = self._kinds_then(consume, bootstrap, options, stop)
        tasks.append(asyncio.create_task(consume))
        self._engine_tasks = tasks

    def start_stack_alerts(self, bootstrap: str, topic: str) -> None:
        """Read the stack's own alerts topic at `bootstrap` (full and team profiles: Riemann
        publishes every alert there besides the TCP line) from this desktop's own position:
        what Riemann raised while the tray was closed is told on start in one summary, what
        comes while it runs is dropped as the TCP line's twin (same alert id). A reader that
        runs elsewhere is moved (stopped, then started at `bootstrap`)."""
        assert self.router is not None, "start() first"
        if self._stack_alerts_task is not None:
            if bootstrap == self.stack_alerts_bootstrap:
                return
            self._spawn_stop_stack_alerts()
        log.info("reading the stack's alerts topic %s at %s", topic, bootstrap)
        alerts = self.config.alerts
        # Nothing to filter (every alert is this desktop's); the first start reads what the
        # catch-up may read (what the TCP path told already is dropped by its id).
        source = AlertsTopicConfig(
            enabled=True, bootstrap=bootstrap, topic=topic, catch_up_s=alerts.catch_up_max_age
        )
        stop = self._stack_alerts_stop = asyncio.Event()
        self.stack_alerts_bootstrap = bootstrap
        self._stack_alerts_task = asyncio.create_task(
            run_alerts_topic(
                source,
                self.accept,
                stop,
                on_status=self._source_status(STACK_ALERTS),
                url_prefixes=url_prefixes(self.config),
                subscription=Subscription(),
                clock=self._clock,
                resume=Resume(reader_group("stack-alerts"), self._durable),
                on_caught_up=self._caught_up,
                max_age_s=alerts.catch_up_max_age,
                max_records=alerts.catch_up_max_records,
            )
        )
        self._catching_up = True
        self._start_seen()

    def _spawn_stop_stack_alerts(self) -> None:
        task, stop = self._stack_alerts_task, self._stack_alerts_stop
        self._stack_alerts_task = self._stack_alerts_stop = None
        if task is not None:
            self._sources.append(asyncio.create_task(_stop_tasks([task], stop)))

    async def stop_stack_alerts(self) -> None:
        """The stack's Kafka is gone (stopped, removed): no reader knocking on it meanwhile.
        Its position is committed: the next start reads on from there."""
        task, stop = self._stack_alerts_task, self._stack_alerts_stop
        self._stack_alerts_task = self._stack_alerts_stop = None
        self.stack_alerts_bootstrap = None
        self.kafka_problems.pop(STACK_ALERTS, None)
        if task is not None:
            await _stop_tasks([task], stop)

    @property
    def stack_alerts_running(self) -> bool:
        return self._stack_alerts_task is not None

    async def _kinds_then(
        self,
        consume: Coroutine[Any, Any, None],
        bootstrap: str,
        options: dict[str, Any],
        stop: asyncio.Event,
    ) -> None:
        """Read the logs at once (the spike rule and the heartbeat never wait for the kinds)
        while the kinds kept by earlier runs load (once; error records wait for them in
        `KindWatch`), then follow the states `logtray kinds resolve|mute|reopen` writes."""
        if not self._kinds_loaded and self.kinds is not None:
            self.kinds.hold()  # before the first record can arrive
        await asyncio.gather(consume, self._load_then_follow_kinds(bootstrap, options, stop))

    async def _load_then_follow_kinds(
        self, bootstrap: str, options: dict[str, Any], stop: asyncio.Event
    ) -> None:
        if not self._kinds_loaded and self.kinds is not None:
            topic = self.config.kinds.topic
            try:
                await ensure_topic(bootstrap, topic, options)
                kept = await read_kinds(bootstrap, topic, options)
            except Exception as exc:  # a Kafka down: the kinds are learned again
                log.warning(
                    "could not read the kept error kinds from %s at %s (%s): new services' "
                    "kinds are learned again",
                    topic,
                    bootstrap,
                    describe_kafka_error(exc),
                )
                kept = []
            self._kinds_loaded = True
            self.kinds.load(kept)
            log.info("error kinds: %d kept from earlier runs", len(kept))
            if not kept:
                await self._learn_recent(bootstrap, options)
            self.kinds.release(self._clock())
        await consume_forever(
            self.config.kinds.topic,
            bootstrap,
            self._kind_states,
            stop,
            options=options,
            on_status=self._source_status("error kinds"),
        )

    def _kind_states(self, records: Records) -> None:
        """A kind's state set by `logtray kinds resolve|mute|reopen`: taken over. The engine's
        own writes come back too, and are not read (one sent before a command could undo it)."""
        if self.kinds is None:
            return
        for known in commanded([(r.key, r.value) for r in records]):
            mine = self.kinds.book.get(*known.key)
            if mine is not None and mine.state != known.state:
                self.kinds.set_state(*known.key, known.state)

    async def _learn_recent(self, bootstrap: str, options: dict[str, Any]) -> None:
        """A first start (no kind kept): the kinds of the last hour's logs are learned, so
        what the services did before is not told as new."""
        kinds, now = self.kinds, self._clock()
        if kinds is None:
            return
        try:
            read = await read_recent(
                bootstrap,
                self.config.engine.topic,
                options,
                now - MAX_AGE_S,
                lambda values: kinds.learn(values, now),
            )
        except Exception as exc:  # learned from the live records instead
            log.info("error kinds: the last hour's logs could not be read (%s)", exc)
            return
        log.info("error kinds: %d log records of the last hour read to learn from", read)

    async def _kinds_ticks(self, stop: asyncio.Event) -> None:
        """The kinds' clock while no record arrives: learning windows end, changes are kept."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if self.kinds is not None and self._kinds_loaded:
                self.kinds.tick(self._clock())

    def _keep_kinds(self, changed: list[KnownKind], gone: list[tuple[str, str]]) -> None:
        if self.kind_keeper is not None:
            self.kind_keeper.keep(changed, gone)

    async def _stop_engine_kafka(self) -> None:
        if self.kinds is not None and self.kind_keeper is not None and self._kinds_loaded:
            # What changed since the last keeping (counts, times) goes with the keeper's last send.
            self.kind_keeper.keep(*self.kinds.book.drain())
        tasks, self._engine_tasks = self._engine_tasks, []
        await _stop_tasks(tasks, self._engine_stop)

    def _tell(self, key: str, title: str, body: str) -> None:
        """A notification of the app's own (an action that failed), one per key, updated in
        place; not an alert: not in the history, not held by snooze."""
        router = self.router
        if router is None:
            return
        notice = Notice(f"logtray:{key}", title, body, None, 1, replaces=True)

        async def show() -> None:
            try:
                await router.notifier.show(notice)
            except Exception:  # a notification server that went away must not stop the app
                log.warning("cannot show the notification %r", title, exc_info=True)

        task = asyncio.create_task(show())
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    def _durable(self) -> None:
        """What the Kafka readers fed in is in the history file before they commit their
        position (what the OS holds survives the process being killed)."""
        if self.router is not None:
            self.router.history.flush()

    def _caught_up(self, caught_up: CaughtUp, peer: str) -> None:
        if self.router is None:
            return
        away = caught_up.away_s  # from the commit's own time, where the broker keeps it
        if away is None and self._last_seen is not None:
            away = self._started_at - self._last_seen
        # A heartbeat's answer read back (a stranger wrote one to the topic) proves nothing now
        # and is no alert: never in the history, as on the live path (heartbeat_tap).
        alerts = [alert for alert in caught_up.alerts if answered_id(alert) is None]
        if self._untold_timer is not None:  # counted in this summary
            self._untold_timer.cancel()
            self._untold_timer = None
        self.router.accept_caught_up(alerts, peer, away, caught_up.skipped)

    async def _note_seen(self) -> None:
        """While a reader resumes from its position: note every SEEN_EVERY_S that this desktop
        is here, so a later start can say how long it was away."""
        while True:
            write_last_seen(self._clock())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._sources_stop.wait(), SEEN_EVERY_S)
            if self._sources_stop.is_set():
                write_last_seen(self._clock())
                return

    def _start_seen(self) -> None:
        if not self._seen_started:
            self._seen_started = True
            self._sources.append(asyncio.create_task(self._note_seen()))

    def start_heartbeat(self, bootstrap: str, topic: str, rule: str) -> HeartbeatMonitor | None:
        """Prove the alert path every `[stack] heartbeat_s` (0: off): one marked record into
        `topic` at `bootstrap`, answered by `rule` ("Riemann", "the engine") on the alert path."""
        interval = self.config.stack.heartbeat_s
        if interval <= 0 or self._heartbeat_task is not None:
            return self.heartbeat
        monitor = self.heartbeat = HeartbeatMonitor(
            interval, max_delay_s=self.config.stack.max_alert_delay_s
        )
        self.heartbeat_bootstrap = bootstrap
        self._heartbeat_rule = rule
        self._heartbeat_said = None
        stop = self._heartbeat_stop = asyncio.Event()
        beats = run_heartbeat(bootstrap, topic, monitor, stop, self._clock, self._heartbeat_changed)
        self._heartbeat_task = asyncio.create_task(beats)
        return monitor

    async def stop_heartbeat(self) -> None:
        """The stack stopped: no heartbeat (and no "not proven" for a stack asked to stop)."""
        task, self._heartbeat_task = self._heartbeat_task, None
        self.heartbeat = None
        self.heartbeat_bootstrap = None
        if task is None or self._heartbeat_stop is None:
            return
        self._heartbeat_stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10.0)

    def heartbeat_status(self) -> HeartbeatStatus | None:
        if self.heartbeat is None:
            return None
        return self.heartbeat.status(self._clock(), self._heartbeat_rule)

    def _heartbeat_answered(self, beat_id: str) -> None:
        if self.heartbeat is not None:
            self.heartbeat.answer(beat_id, self._clock())
            self._heartbeat_changed()

    def _heartbeat_changed(self) -> None:
        monitor = self.heartbeat
        if monitor is None:
            return
        now = self._clock()
        save_report(monitor.report(now, self._heartbeat_rule), paths.heartbeat_file())
        status = monitor.status(now, self._heartbeat_rule)
        previous, self._heartbeat_said = self._heartbeat_said, status
        bad = status.failing or status.late
        was_bad = previous is not None and (previous.failing or previous.late)
        if bad and (previous is None or previous.failing != status.failing or not was_bad):
            log.warning("%s; fix: %s", status.line, status.fix)
        elif was_bad and not bad and not status.rechecking:
            log.warning("%s (again)", status.line)
        elif previous is None or not previous.line.startswith("alerts: proven"):
            log.info("%s", status.line)  # the first proof
        if self._on_heartbeat:
            self._on_heartbeat(status, previous)

    def _source_status(self, source: str) -> Callable[[str], None]:
        def on_status(text: str) -> None:
            if text.startswith(("cannot", "lost")):
                self.kafka_problems[source] = text
            else:
                self.kafka_problems.pop(source, None)
            if self._on_change:
                self._on_change()

        return on_status

    @property
    def notifier_name(self) -> str:
        return self.router.notifier.name if self.router else "none"

    async def stop(self) -> None:
        if self._untold_timer is not None:  # not told: the next start tells them
            self._untold_timer.cancel()
        await self.stop_heartbeat()
        await self.stop_stack_alerts()
        self._sources_stop.set()
        await self._stop_engine_kafka()
        # However each reader ends (even cancelled under it), the listener and the history
        # are still closed.
        sources, self._sources = self._sources, []
        await _stop_tasks(sources, self._sources_stop)
        if self.listener:
            await self.listener.stop()
        if self._telling:  # an action's failure being told reaches the notifier before it closes
            await asyncio.wait(set(self._telling), timeout=5.0)
        if self.router:
            await self.router.aclose()
            self.router.history.close()


async def _stop_tasks(
    tasks: list[asyncio.Task[object]], stop: asyncio.Event | None, timeout: float = 10.0
) -> None:
    """Set `stop` and wait (at most `timeout`) for the tasks watching it; cancel any left.
    Whatever they end with (aiokafka's stop can end a task cancelled) stays in them: the
    caller, e.g. a move to another Kafka, goes on."""
    if stop is not None:
        stop.set()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.debug("a Kafka client ended with %r", task.exception())
