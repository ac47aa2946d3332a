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
from logtray.tray.alerts.kafka_source import consume_forever
from logtray.tray.alerts.kibana import discover_url
from logtray.tray.alerts.listener import AlertListener
from logtray.tray.alerts.policy import AlertPolicy
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
        # Never fails: a history file that cannot be used is said once, alerts kept in memory.
        history = AlertHistory(paths.history_file(), config.alerts.history_size, prefixes)
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
            self._sources.append(
                asyncio.create_task(
                    run_alerts_topic(
                        config.alerts_topic,
                        self.router.accept,
                        self._sources_stop,
                        url_prefixes=prefixes,
                    )
                )
            )

    def start_engine(self) -> RuleEngine:
        """Run the embedded rule engine (lite profile) into this service's router."""
        assert self.router is not None, "start() first"
        router = self.router
        engine = RuleEngine(
            self.config.engine,
            lambda alert: router.accept(alert, "engine", time.perf_counter()),
            self._clock,
        )
        self.engine = engine
        self.actions.set_records(engine.rule.records)
        engine_config = self.config.engine
        self._sources.append(
            asyncio.create_task(
                consume_forever(
                    engine_config.topic,
                    engine_config.bootstrap,
                    engine.on_records,
                    self._sources_stop,
                )
            )
        )
        return engine

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
