"""What a user can do from an alert's popup: Show errors, Open in Kibana, Open in editor, and
Resolve an error kind's New or Regressed alert.

`AlertActions.for_notice` lists the actions that make sense for one notice: "Show errors"
writes the error view (tray/delivery/error_view.py) and opens it; "Open in Kibana" only while
Kibana answers; "Open in editor" only when the alert's file (or, for a group without one, the
first frame of the user's own code) is found in a local checkout (tray/delivery/editor.py; the
error view says why not). "Resolve" marks the kind resolved where its book is: in this
process's engine (lite profile), else in the kinds topic on the stack's Kafka, as `logtray kinds
resolve` writes it, which Riemann follows (full profile).
Every action runs off the event loop and logs its failure: an action can never crash the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from logtray.pipeline.kinds import State
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.evidence import ErrorRecord
from logtray.tray.alerts.kafka_source import security_options
from logtray.tray.alerts.kibana import discover_url
from logtray.tray.alerts.kind_alerts import service_label
from logtray.tray.alerts.kinds_topic import checked_kind, is_kind_id, set_kind_state
from logtray.tray.alerts.policy import Notice
from logtray.tray.base.config import Config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.delivery import editor, error_view, opener

log = logging.getLogger(__name__)

SHOW_ERRORS = "Show errors"
OPEN_KIBANA = "Open in Kibana"
OPEN_EDITOR = "Open in editor"
RESOLVE = "Resolve"

RecordsFor = Callable[[str], Sequence[ErrorRecord]]
# Sets an error kind's state: (service, kind id, "resolved"|"muted"|"open") -> known or None.
SetKindState = Callable[[str, str, State], object]
# Where the stack's Kafka is (its bootstrap), None while it is not known to run.
StackKafka = Callable[[], str | None]
# A notification of the app's own, (title, body); callable from any thread.
Tell = Callable[[str, str], object]


@dataclass(frozen=True)
class Action:
    label: str
    run: Callable[[], object]  # blocking is fine: callers run it in a worker thread


def kibana_link(config: Config, alert: Alert, now: float) -> str:
    """The sender's own link when it is a plain http(s) URL, else our Discover link."""
    return error_view.safe_http_url(alert.url) or discover_url(
        config.kibana, alert, alert.time or now
    )


def editor_line(alert: Alert) -> int | None:
    if alert.lineno is not None:
        return alert.lineno
    return alert.evidence.lines[0] if alert.evidence and alert.evidence.lines else None


def editor_target(config: Config, alert: Alert) -> editor.EditorTarget | str:
    """What "Open in editor" opens: the call site's file at its line; for a group without one
    ("<service> · <template>": pino, winston) the first frame of the user's own code in the
    errors' stack; else the one sentence saying why there is nothing to open."""
    frame = alert.frame
    if alert.file:
        # The frame's function names a Java class's package: where its file is in a checkout.
        same = frame is not None and frame.file.rsplit("/", 1)[-1] == alert.file.rsplit("/", 1)[-1]
        function = frame.function if frame is not None and same else None
        return editor.resolve(config.editor, alert.file, editor_line(alert), function=function)
    if frame is not None:
        return editor.resolve(config.editor, frame.file, frame.line, function=frame.function)
    if alert.pathname:
        return (
            f"the alert's group {alert.pathname!r} is a service and a message, not a file (its "
            "logger writes no call site), and its errors carry no stack frame of your code"
        )
    return "the alert names no file"


def write_error_view(
    config: Config,
    alert: Alert,
    records: Sequence[ErrorRecord] = (),
    kibana_running: bool = True,
    now: float | None = None,
) -> Path:
    """Render and write the alert's error view; its path."""
    now = time.time() if now is None else now
    target = editor_target(config, alert)
    page = error_view.render(
        alert,
        records,
        kibana_url=kibana_link(config, alert, now) if kibana_running else None,
        editor=target,
        generated=now,
    )
    return error_view.write(page, error_view.page_name(alert, now))


class KibanaProbe:
    """Is Kibana answering? A TCP connect to its URL's host and port, remembered a few seconds."""

    def __init__(self, url: str, timeout: float = 0.25, remember_s: float = 5.0) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._timeout = timeout
        self._remember_s = remember_s
        self._checked = -1e9
        self._up = False

    async def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._remember_s:
            return self._up
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), self._timeout
            )
            writer.close()
            self._up = True
        except (OSError, asyncio.TimeoutError):
            self._up = False
        self._checked = time.monotonic()
        return self._up


class AlertActions:
    def __init__(
        self,
        config: Config,
        open_url: Callable[[str], object],
        records: RecordsFor | None = None,
        kibana_running: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.config = config
        self._open_url = open_url
        self._records = records or (lambda key: ())
        self._kibana_running = kibana_running or KibanaProbe(config.kibana.url)
        self._set_kind: SetKindState | None = None
        self._stack_kafka: StackKafka | None = None
        self._tell: Tell = lambda title, body: None

    def set_records(self, records: RecordsFor) -> None:
        """Where the engine's recent error records come from (set when the engine starts)."""
        self._records = records

    def set_kinds(self, set_state: SetKindState) -> None:
        """Where an error kind is resolved (set when the engine watches kinds)."""
        self._set_kind = set_state

    def set_stack_kafka(self, where: StackKafka) -> None:
        """Where the stack's kinds topic is, for a kind alert this process's engine did not
        tell (Riemann's, full profile)."""
        self._stack_kafka = where

    def set_tell(self, tell: Tell) -> None:
        """How an action's failure is told (a notification of the app's own)."""
        self._tell = tell

    async def for_notice(self, notice: Notice) -> list[Action]:
        alert = notice.alert
        kibana = bool(notice.url) and await self._kibana_running()
        actions: list[Action] = []
        if alert is not None:
            actions.append(Action(SHOW_ERRORS, lambda: self.show_errors(alert, kibana)))
        if kibana and notice.url:
            url = notice.url
            actions.append(Action(OPEN_KIBANA, lambda: self._open_url(url)))
        if alert is not None:
            target = editor_target(self.config, alert)
            if isinstance(target, editor.EditorTarget):
                actions.append(Action(OPEN_EDITOR, lambda: self._open_editor(target)))
            else:
                log.debug("open in editor disabled for %r: %s", alert.pathname, target)
            set_kind, kind_id = self._set_kind, alert.kind_id
            if is_kind_id(kind_id) and alert.kind in ("new", "regressed"):
                service = alert.service or ""  # a kind of no named service has ""
                if set_kind is not None:
                    actions.append(Action(RESOLVE, lambda: set_kind(service, kind_id, "resolved")))
                elif self._stack_kafka is not None:
                    actions.append(Action(RESOLVE, lambda: self.resolve_kept(service, kind_id)))
        return actions

    def resolve_kept(self, service: object, kind_id: object) -> bool:
        """Resolve a kind in the kinds topic on the stack's Kafka (blocking: a worker thread).
        The alert's service and id are a stranger's: checked before anything is read or
        written. A failure is told in one sentence (logged, and a notification)."""
        try:
            kind_id, checked = checked_kind(kind_id, service)
            bootstrap = self._stack_kafka() if self._stack_kafka is not None else None
            if bootstrap is None:
                raise LogtrayError(
                    "the stack's Kafka, where the error kinds are kept, is not running",
                    fix="start the stack (`logtray stack up`)",
                )
            topic = self.config.kinds.topic
            options = security_options(self.config.engine)
            changed = asyncio.run(
                set_kind_state(bootstrap, topic, options, kind_id, checked or "", "resolved")
            )
        except LogtrayError as exc:
            said = f"{exc.message}: {exc.fix}" if exc.fix else exc.message
            log.error("cannot resolve the error kind: %s", said)
            self._tell("Could not resolve the error kind", said)
            return False
        for known in changed:
            log.info("%s: %s is resolved", service_label(known.kind.service), known.kind.label())
        return True

    def show_errors(self, alert: Alert, kibana_running: bool) -> Path:
        records = self._records(alert.pathname) if alert.pathname else ()
        path = write_error_view(self.config, alert, records, kibana_running)
        opener.open_page(path)
        return path

    def _open_editor(self, target: editor.EditorTarget) -> None:
        try:
            editor.open_target(target, opener.open_configured_url)
        except LogtrayError as exc:
            log.error("%s", exc)
