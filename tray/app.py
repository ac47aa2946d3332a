"""The tray app: the alert service and the stack, driven from a tray icon.

Threads (../shared/notes/design.md): pystray owns the main thread; one asyncio loop runs in
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
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tray import autostart, paths
from tray.alert import Alert
from tray.config import Config, ensure_token
from tray.errors import LogtrayError
from tray.kibana import discover_url
from tray.opener import open_path, open_url
from tray.service import AlertService
from tray.stack_link import StackLink
from tray.state import AppState, RecentAlert, ServiceView, phase_from_services
from tray.traycheck import tray_problem

log = logging.getLogger(__name__)

REFRESH_DELAY_S = 0.3  # alerts arrive in floods; the tray redraws at most this often
DOCKER_RECHECK_S = 30.0  # only while Docker is unavailable: no fast polling otherwise


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
        alert = Alert.from_record(entry)
        key = alert.key
        if key in by_key:
            seen = by_key[key]
            by_key[key] = dataclasses.replace(seen, count=seen.count + 1)
            continue
        if len(by_key) >= limit:
            continue
        received = float(entry.get("received", 0))
        url = alert.url or discover_url(config.kibana, alert, alert.time or received)
        by_key[key] = RecentAlert(received, alert.headline(), 1, url)
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
        from tray.tray_view import TrayView

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
        self.service = AlertService(self.config, on_change=self._alerts_changed)
        try:
            await self.service.start()
        except BaseException as exc:
            started.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            close_view()
            return
        if self.config.stack.profile == "lite":
            # No Riemann in the lite profile: the embedded rule engine reads Kafka instead.
            self.service.start_engine()
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
                    await asyncio.to_thread(self.stack.down)
            await asyncio.to_thread(self.stack.close)
            await self.service.stop()
            close_view()

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
        self._set(
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
        """Follow the stack's status from Docker events; recheck Docker only while it is away."""
        while True:
            problem = await asyncio.to_thread(self.stack.connect)
            if problem is None:
                break
            self._set(phase="unavailable", docker_problem=problem)
            await asyncio.sleep(DOCKER_RECHECK_S)
        services = await asyncio.to_thread(self.stack.status)
        self._services_changed(services)
        await asyncio.to_thread(self.stack.watch, self._services_changed_elsewhere)

    def _services_changed_elsewhere(self, services: tuple[ServiceView, ...]) -> None:
        """From Docker's threads: hand the change to the loop."""
        if self._loop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._services_changed, services)

    def _services_changed(self, services: tuple[ServiceView, ...]) -> None:
        phase = phase_from_services(services, self._busy)
        progress = self.state.progress if self._busy else None
        if self._busy:
            moving = [s for s in services if s.state in ("pulling", "starting")]
            if moving:
                progress = ", ".join(f"{s.name} {s.text}" for s in moving)
        self._set(services=services, phase=phase, docker_problem=None, progress=progress)

    async def _stack_up(self) -> None:
        if self._busy:
            return
        self._busy = True
        self._set(phase="starting", progress="preparing images", last_error=None)
        try:
            alert_path = await asyncio.to_thread(self.stack.up, self._services_changed_elsewhere)
            if alert_path:  # the stack runs, but its alerts cannot reach us: say why
                self._set(last_error=alert_path.message)
                log.warning("alert path: %s", alert_path)
        except LogtrayError as exc:
            self._set(last_error=f"Start failed: {exc.message}")
            log.warning("stack up failed: %s", exc)
        finally:
            self._busy = False
            self._services_changed(await asyncio.to_thread(self.stack.status))

    async def _stack_down(self) -> None:
        if self._busy:
            return
        self._busy = True
        self._set(phase="stopping", progress="stopping the stack")
        try:
            await asyncio.to_thread(self.stack.down)
        except LogtrayError as exc:
            self._set(last_error=f"Stop failed: {exc.message}")
        finally:
            self._busy = False
            self._services_changed(await asyncio.to_thread(self.stack.status))

    async def _show_logs(self, service: str) -> None:
        path = paths.log_dir() / f"{service}.log"
        try:
            text = await asyncio.to_thread(self.stack.logs, service)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except LogtrayError as exc:
            self._set(last_error=exc.message)
            return
        open_url(path.as_uri())

    # -- menu actions (called on the GUI thread; run on the loop) ----------------------------------
    def _on_action(self, action: str) -> None:
        loop = self._loop
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.dispatch(action), loop)
        future.add_done_callback(_log_failure(action))

    async def dispatch(self, action: str) -> None:
        name, _, arg = action.partition(":")
        router = self.service.router if self.service else None
        if name == "stack.start":
            await self._stack_up()
        elif name == "stack.stop":
            await self._stack_down()
        elif name == "service.logs":
            await self._show_logs(arg)
        elif name == "kibana.open":
            open_url(self.config.kibana.url.rstrip("/") + "/app/discover#/")
            self._mark_seen()
        elif name == "alert.open":
            index = int(arg)
            if index < len(self.state.recent) and self.state.recent[index].url:
                open_url(self.state.recent[index].url or "")
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
