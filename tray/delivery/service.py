"""The alert service: listener -> router (history, policy, notifier), as one lifecycle.

The headless `logtray listen` runs it alone; the tray app runs it beside the stack manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.alerts_topic import run_alerts_topic
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.alerts.kafka_source import consume_forever, security_options
from logtray.tray.alerts.kibana import discover_url
from logtray.tray.alerts.listener import AlertListener
from logtray.tray.alerts.policy import AlertPolicy
from logtray.tray.alerts.publisher import AlertPublisher
from logtray.tray.alerts.subscription import Subscription, subscription_from
from logtray.tray.base import paths
from logtray.tray.base.config import Config
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


class AlertService:
    def __init__(
        self,
        config: Config,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._notifier = notifier
        self._clock = clock
        self._on_change = on_change
        self.router: AlertRouter | None = None
        self.listener: AlertListener | None = None
        # Kafka sources feeding the same router: the alerts topic, the embedded rule engine.
        self._sources_stop = asyncio.Event()
        self._sources: list[asyncio.Task[object]] = []
        self.engine: RuleEngine | None = None
        self.publisher: AlertPublisher | None = None
        # What this desktop wants of the alerts topic (and how many it did not).
        self.subscription: Subscription | None = None
        # The Kafka sources' problems, for the menu: source -> the sentence said once.
        self.kafka_problems: dict[str, str] = {}
        # The popup's actions (Show errors, Open in Kibana, Open in editor).
        self.actions = AlertActions(
            config, functools.partial(open_url, allowed_prefixes=url_prefixes(config))
        )

    async def start(self, listen: bool = True) -> None:
        config = self.config
        prefixes = url_prefixes(config)
        notifier = self._notifier or await select_notifier(
            config.notifier.backend,
            functools.partial(open_url, allowed_prefixes=prefixes),
            self.actions,
        )
        try:
            history = AlertHistory(paths.history_file(), config.alerts.history_size, prefixes)
        except OSError as exc:
            from logtray.tray.base.errors import LogtrayError

            raise LogtrayError(
                f"cannot open the alert history {paths.history_file()}: {exc.strerror}",
                fix="make the user data directory writable",
            ) from None
        policy = AlertPolicy(config.alerts, functools.partial(_link, config))
        self.router = AlertRouter(policy, history, notifier, self._clock, self._on_change)
        if listen:
            self.listener = AlertListener(config.listener, self.router.accept, prefixes)
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
                        self.router.accept,
                        self._sources_stop,
                        url_prefixes=prefixes,
                        on_status=self._source_status("team alerts"),
                        subscription=self.subscription,
                        clock=self._clock,
                    )
                )
            )

    def start_engine(self) -> RuleEngine:
        """Run the embedded rule engine (lite profile) into this service's router."""
        assert self.router is not None, "start() first"
        router = self.router
        engine_config = self.config.engine
        publisher = self._start_publisher() if engine_config.publish else None

        def on_alert(alert: Alert) -> None:
            if publisher is not None:
                publisher.publish(alert)
            router.accept(alert, "engine", time.perf_counter())

        engine = RuleEngine(engine_config, on_alert, self._clock)
        self.engine = engine
        self.actions.set_records(engine.rule.records)
        self._sources.append(
            asyncio.create_task(
                consume_forever(
                    engine_config.topic,
                    engine_config.bootstrap,
                    engine.on_records,
                    self._sources_stop,
                    options=security_options(engine_config),
                    on_status=self._source_status("engine"),
                )
            )
        )
        return engine

    def _start_publisher(self) -> AlertPublisher:
        """The engine's alerts to [alerts_topic] topic, over [engine]'s Kafka connection."""
        engine_config = self.config.engine
        publisher = AlertPublisher(
            engine_config.bootstrap,
            self.config.alerts_topic.topic,
            security_options(engine_config),
            on_status=self._source_status("publishing"),
        )
        self.publisher = publisher
        self._sources.append(asyncio.create_task(publisher.run(self._sources_stop)))
        return publisher

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
        self._sources_stop.set()
        for task in self._sources:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10.0)
        self._sources.clear()
        if self.listener:
            await self.listener.stop()
        if self.router:
            await self.router.aclose()
            self.router.history.close()
