"""The heartbeat: the alert path proven all day, end to end (Alertmanager's Watchdog pattern).

Every `[stack] heartbeat_s` logtray produces one marked record into the logs topic. The rule
(riemann.config in the full profile, the engine in the lite one) recognises the mark and
answers at once through the path real alerts take (the TCP listener with the token, or the
engine's accept): `{"heartbeat": "<id>"}`. The answer is taken out of that path before the
router (`heartbeat_tap`): never notified, never in the history; the rule never counts the
record, and Riemann never indexes it (it stays out of Kibana).

`HeartbeatMonitor` is pure (the caller passes `now`): it pairs answers with what was sent and
says "alerts: proven 40 s ago, 180 ms end to end", or, after two missed heartbeats, which hop
failed where that can be told, and the fix. `run_heartbeat` is the producing loop.

A machine that slept (or a process that was stopped) misses heartbeats it never sent: the loop
sees a step that took far longer than it could have on the clock it stamps with, and the
monitor starts over (`resumed`) — what was pending proves nothing either way, a fresh
heartbeat goes out at once, and only heartbeats missed after the pause are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.json_object import json_object

log = logging.getLogger(__name__)

MARK = "logtray_heartbeat"  # the field of the record produced into the logs topic
ANSWER = "heartbeat"  # the field of the answer on the alert path
MAX_ID_CHARS = 64
MISSED_TO_FAIL = 2
DEFAULT_MAX_DELAY_S = 30.0
_PENDING = 16  # heartbeats remembered while unanswered
# A step of the loop later than its own bound by more than this (or half an interval, if more)
# means the process did not run meanwhile (the machine slept, it was stopped) or the clock
# jumped: a busy machine delays a step by far less.
PAUSE_SLACK_S = 5.0
MAX_PAUSE_S = 10 * 365 * 86400.0  # what a kept report may say (its file is read back)


def heartbeat_record(beat_id: str, now: float) -> bytes:
    """The marked record: no `level` and no file, so no rule could count it even unmarked (and
    the engine looks for the mark only among what it could not use)."""
    stamp = datetime.fromtimestamp(now, timezone.utc)
    return orjson.dumps(
        {
            MARK: beat_id,
            "@timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{stamp.microsecond // 1000:03d}Z",
            "message": "logtray heartbeat",
            "service": "logtray",
        }
    )


def heartbeat_mark(raw: bytes | None) -> str | None:
    """The heartbeat id of a record from the logs topic, or None (cheap for every other one)."""
    if not raw or b'"' + MARK.encode() not in raw:
        return None
    obj = json_object(raw)
    if obj is None:
        return None
    beat_id = obj.get(MARK)
    return beat_id if isinstance(beat_id, str) and 0 < len(beat_id) <= MAX_ID_CHARS else None


def answer_alert(beat_id: str) -> Alert:
    """The engine's answer, on the same accept path as its alerts."""
    return Alert(extra={ANSWER: beat_id})


def answered_id(alert: Alert) -> str | None:
    """The heartbeat id an alert-path message answers, or None for a real alert."""
    value = alert.extra.get(ANSWER)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        return None
    return value


@dataclass(frozen=True)
class HeartbeatStatus:
    """What the menu and doctor say. `failing` is set after MISSED_TO_FAIL missed beats."""

    line: str  # "alerts: proven 40 s ago, 180 ms end to end"
    failing: bool = False
    hop: str = ""  # which hop failed (or who is late), when it can be told
    fix: str = ""
    late: bool = False  # answered, but later than [stack] max_alert_delay_s
    rechecking: bool = False  # after a pause (sleep), the fresh proof is not in yet


class HeartbeatMonitor:
    """Pairs heartbeats sent with their answers (pure: every method takes `now`)."""

    def __init__(
        self,
        interval_s: float,
        prefix: str | None = None,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
    ) -> None:
        self.interval_s = interval_s
        self.max_delay_s = max_delay_s
        self._prefix = prefix or secrets.token_hex(4)
        self._seq = 0
        self._pending: OrderedDict[str, float] = OrderedDict()
        self._counted: str | None = None
        self.proven_at: float | None = None
        self.latency_s: float | None = None
        self.started_at: float | None = None
        self.missed = 0
        self.produce_error: str | None = None
        self.sent = 0
        self.answered = 0
        self.unknown = 0
        # The last pause found (seconds), while the fresh proof after it is awaited.
        self.paused_s: float | None = None
        self.pauses = 0

    def pause_over(self, started: float, now: float, bound_s: float) -> float | None:
        """How long a step that began at `started` and takes at most `bound_s` did not run,
        when that is a pause (asleep, stopped, the clock set forward); None otherwise."""
        over = now - started - bound_s
        return over if over > max(PAUSE_SLACK_S, self.interval_s / 2) else None

    def resumed(self, paused_s: float) -> None:
        """The process did not run for `paused_s`: the heartbeats pending from before prove
        nothing either way (an answer to one would carry the pause as its latency). Count
        afresh: only heartbeats missed from now on are told. A failure told before the pause
        stays told until an answer proves the path again."""
        self.pauses += 1
        self.paused_s = paused_s
        self._pending.clear()
        self._counted = None
        if self.missed < MISSED_TO_FAIL:
            self.missed = 0
            self.produce_error = None

    def next_id(self, now: float) -> str:
        """A new heartbeat's id; it counts as sent when `sent(id, now)` follows."""
        if self.started_at is None:
            self.started_at = now
        self._seq += 1
        return f"{self._prefix}-{self._seq}"

    def due(self, now: float) -> None:
        """Called when the next heartbeat is due: the previous one, unanswered, is missed."""
        if not self._pending:
            return
        newest = next(reversed(self._pending))
        if newest != self._counted and self._pending[newest] <= now - self.interval_s:
            self._counted = newest  # each unanswered heartbeat is missed once
            self.missed += 1

    def sent_ok(self, beat_id: str, now: float) -> None:
        self.sent += 1
        self.produce_error = None
        self._pending[beat_id] = now
        while len(self._pending) > _PENDING:
            self._pending.popitem(last=False)

    def send_failed(self, error: str) -> None:
        self.missed += 1
        self.produce_error = error

    def answer(self, beat_id: str, now: float) -> bool:
        """An answer arrived; True when it answers one of ours."""
        sent_at = self._pending.pop(beat_id, None)
        if sent_at is None:
            self.unknown += 1  # another tray's, or one from before a restart
            return False
        # Older unanswered ones are superseded: the path works.
        for older in [k for k, t in self._pending.items() if t <= sent_at]:
            del self._pending[older]
        self.answered += 1
        self.proven_at = now
        self.latency_s = max(0.0, now - sent_at)
        self.missed = 0
        self.paused_s = None
        return True

    def status(self, now: float, rule: str = "the rule") -> HeartbeatStatus:
        """The line to show; `rule` names who answers ("Riemann", "the engine")."""
        hop = fix = ""
        failing = self.missed >= MISSED_TO_FAIL
        if failing:
            hop, fix = self._failed_hop(rule)
        return describe(
            now,
            self.proven_at,
            self.latency_s,
            failing,
            hop,
            fix,
            self.max_delay_s,
            rule,
            self.paused_s,
        )

    def _failed_hop(self, rule: str) -> tuple[str, str]:
        if self.produce_error is not None:
            return (
                f"Kafka is not accepting the heartbeat ({self.produce_error})",
                "check the stack's kafka service: `logtray stack status`, "
                "`logtray stack logs kafka`",
            )
        return (
            f"{rule} did not answer {self.missed} heartbeats in a row",
            f"see `logtray stack status` and `logtray stack logs {_service(rule)}`; "
            "Repair restarts it",
        )

    def report(self, now: float, rule: str) -> dict[str, Any]:
        """What `save_report` keeps for `logtray doctor` (another process)."""
        status = self.status(now, rule)
        return {
            "written_at": now,
            "interval_s": self.interval_s,
            "max_delay_s": self.max_delay_s,
            "rule": rule,
            "proven_at": self.proven_at,
            "latency_s": self.latency_s,
            "failing": status.failing,
            "hop": status.hop,
            "fix": status.fix,
            "line": status.line,
            "paused_s": self.paused_s,
        }


def save_report(report: dict[str, Any], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(report))
        tmp.replace(path)
    except OSError as exc:  # the menu still says it; only doctor would miss it
        log.debug("cannot keep the heartbeat report: %s", exc)


def read_report(path: Path, now: float) -> HeartbeatStatus | None:
    """The kept report as the menu would say it now; None when no heartbeat ran here. A report
    not refreshed for three heartbeats means nothing runs them any more: said so."""
    try:
        raw = json_object(path.read_bytes())
    except OSError:
        return None
    if raw is None:
        return None
    written, interval = _num(raw.get("written_at")), _num(raw.get("interval_s"))
    proven, latency = _num(raw.get("proven_at")), _num(raw.get("latency_s"))
    if written is None or interval is None:
        return None
    hop, fix = str(raw.get("hop") or "")[:300], str(raw.get("fix") or "")[:300]
    proof = (
        f"proven {_ago(now - proven)} ago, {latency * 1000:.0f} ms end to end"
        if proven is not None and latency is not None
        else ""
    )
    if now - written > 3 * interval + 10:
        last = f"; last {proof}" if proof else ""
        return HeartbeatStatus(f"alerts: no heartbeat for {_ago(now - written)}{last}")
    max_delay = _num(raw.get("max_delay_s")) or DEFAULT_MAX_DELAY_S
    rule = str(raw.get("rule") or "the rule")[:40]
    failing = raw.get("failing") is True
    paused = _num(raw.get("paused_s"))
    if paused is not None and not 0 <= paused <= MAX_PAUSE_S:
        paused = None  # not a pause this report could have found
    return describe(now, proven, latency, failing, hop, fix, max_delay, rule, paused)


def describe(
    now: float,
    proven_at: float | None,
    latency_s: float | None,
    failing: bool,
    hop: str,
    fix: str,
    max_delay_s: float,
    rule: str,
    paused_s: float | None = None,
) -> HeartbeatStatus:
    """The one wording of the menu, `logtray doctor` and `logtray engine` (pure). `paused_s`:
    the pause (sleep) after which the path is being proven again."""
    proof = ""
    if proven_at is not None and latency_s is not None:
        proof = f"proven {_ago(now - proven_at)} ago, {_took(latency_s)} end to end"
    if failing:
        last = f" (last {proof})" if proof else ""
        return HeartbeatStatus(f"alerts: not proven — {hop}{last}", True, hop, fix)
    if paused_s is not None:
        last = f" (last {proof})" if proof else ""
        return HeartbeatStatus(
            f"alerts: proving again after a pause of {_ago(paused_s)}{last}", rechecking=True
        )
    if proof and latency_s is not None and latency_s > max_delay_s:
        why = f"{rule} is {_took(latency_s)} behind the logs"
        return HeartbeatStatus(
            f"alerts: late — {why} (more than {max_delay_s:g} s)",
            late=True,
            hop=why,
            fix=f"a flood of logs, or a slow {_service(rule)}: `logtray stack status`; "
            "raise [stack] max_alert_delay_s to accept it",
        )
    if proof:
        return HeartbeatStatus(f"alerts: {proof}")
    return HeartbeatStatus("alerts: heartbeat sent, waiting for the first answer")


def _took(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else _ago(seconds)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _service(rule: str) -> str:
    return "riemann" if rule == "Riemann" else "kafka"


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def heartbeat_tap(
    accept: Callable[..., Any], on_answer: Callable[[str], None]
) -> Callable[..., Any]:
    """`accept` for the alert path, with heartbeat answers taken out before it (so they are
    never notified nor stored) and handed to `on_answer`."""

    def tapped(alert: Alert, *args: Any, **kwargs: Any) -> Any:
        beat_id = answered_id(alert)
        if beat_id is not None:
            on_answer(beat_id)
            return None
        return accept(alert, *args, **kwargs)

    return tapped


async def run_heartbeat(
    bootstrap: str,
    topic: str,
    monitor: HeartbeatMonitor,
    stop: asyncio.Event,
    clock: Callable[[], float],
    on_change: Callable[[], None] | None = None,
) -> None:
    """Produce one marked record every `monitor.interval_s` until `stop` is set.

    Each step is checked against its own bound on `clock` (the wall clock, which goes on while
    the machine sleeps; asyncio's monotonic clock does not, on Linux and macOS): a step far
    later than its bound was a pause, and the path is proven again at once with a fresh
    producer (a connection may not have survived the sleep) instead of counting misses."""
    from aiokafka import AIOKafkaProducer

    from logtray.tray.alerts.kafka_source import quiet_aiokafka, stop_client

    quiet_aiokafka()
    # A heartbeat that cannot be produced within its own interval (at most 10 s) is missed.
    timeout_s = min(10.0, max(1.0, monitor.interval_s))
    producer: Any = None

    async def drop_producer() -> None:
        nonlocal producer
        if producer is not None:
            await stop_client(producer)
        producer = None

    async def paused(started: float, bound_s: float) -> bool:
        gap = monitor.pause_over(started, clock(), bound_s)
        if gap is None:
            return False
        log.info("logtray did not run for %s (asleep or stopped): proving alerts again", _ago(gap))
        monitor.resumed(gap)
        await drop_producer()
        if on_change:
            on_change()
        return True

    try:
        while not stop.is_set():
            now = clock()
            monitor.due(now)
            beat_id = monitor.next_id(now)
            error: str | None = None
            try:
                if producer is None:
                    producer = AIOKafkaProducer(
                        bootstrap_servers=bootstrap,
                        linger_ms=0,
                        request_timeout_ms=int(timeout_s * 1000),
                    )
                    await asyncio.wait_for(producer.start(), timeout_s)
                sent_at = clock()
                await asyncio.wait_for(
                    producer.send_and_wait(topic, heartbeat_record(beat_id, sent_at)), timeout_s
                )
            except Exception as exc:  # Kafka down or refusing: a missed heartbeat, said once
                error = (str(exc) or type(exc).__name__)[:200]
            if await paused(now, 2 * timeout_s):
                continue  # neither sent nor missed: a fresh proof at once
            if error is None:
                monitor.sent_ok(beat_id, sent_at)
            else:
                if monitor.produce_error is None:
                    log.warning("cannot produce the heartbeat to %s: %s", bootstrap, error)
                monitor.send_failed(error)
                await drop_producer()
            if on_change:
                on_change()
            waited_from = clock()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), monitor.interval_s)
            await paused(waited_from, monitor.interval_s)
    finally:
        await drop_producer()
