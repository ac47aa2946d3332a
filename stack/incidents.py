"""Stack events told: a service that exits, is OOM-killed, turns unhealthy or restarts in a loop.

Pure: Docker's container events (with what an inspection of the container added) go in as
`Observation`s, and `IncidentBook` answers with the `Told` items to show — one "problem" when an
incident opens, one "recovered" when it is over — never more for the same incident. Time is
passed in (`now`), so the rules are tested without a clock; `next_deadline()` says when `tick`
has something to do.

The rules:
- A stop someone asked for is not an incident: Docker's `kill` event with any signal but
  SIGKILL (what `docker stop`, `logtray stack down`, the tray's Stop and a recreate by `up`
  send first) marks the container as stopping until its next start. `docker kill` (SIGKILL,
  with no stop before it) and the kernel's OOM killer are incidents.
- An exit Docker will answer with a restart (the container's restart policy) is counted, not
  told: LOOP_EXITS exits within LOOP_WINDOW_S are a restart loop, told once.
- `health_status: unhealthy` is told at once: Docker says it only after the start period and
  its retries.
- An incident is over when the service has run well for RECOVERED_AFTER_S (healthy, or running
  when it has no healthcheck); then "recovered" is told once. A new incident of the same
  service after that is a new episode.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from logtray.stack.labels import LABEL_SERVICE

ObservationKind = Literal["started", "stopping", "died", "healthy", "unhealthy", "removed"]
# "writes": Elasticsearch refuses writes (told by riemann.config, see stack/es_writes.py).
IncidentKind = Literal["oom", "exited", "unhealthy", "loop", "writes"]

LOOP_EXITS = 3
LOOP_WINDOW_S = 120.0
# Docker resets its restart backoff after 10 s of running: the same bound says "recovered".
RECOVERED_AFTER_S = 10.0
# What a health check printed is a stranger's text: bounded before it is shown.
OUTPUT_CHARS = 300


@dataclass(frozen=True)
class Observation:
    """One container event of a stack service, with what an inspection added."""

    service: str
    kind: ObservationKind
    at: float
    exit_code: int | None = None
    oom_killed: bool = False
    mem_limit: int | None = None  # bytes; None: no limit
    will_restart: bool = False  # Docker's restart policy will start it again
    health_output: str = ""  # the last health check's output (unhealthy)
    has_healthcheck: bool = False


@dataclass(frozen=True)
class Incident:
    service: str
    kind: IncidentKind
    cause: str  # the cause in words
    fix: str
    opened_at: float
    exits: int = 0  # exits seen in this episode

    @property
    def title(self) -> str:
        what = {
            "oom": "was killed: out of memory",
            "exited": "stopped",
            "unhealthy": "is unhealthy",
            "loop": "restarts in a loop",
            "writes": "refuses writes",
        }[self.kind]
        return f"{self.service} {what}"

    def menu_line(self) -> str:
        return f"{self.title}: {self.cause}"

    def text(self) -> str:
        """The whole text: what, why, and the fix (for `doctor` and `stack status`)."""
        return f"{self.title}: {self.cause}\nfix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "kind": self.kind,
            "cause": self.cause,
            "fix": self.fix,
            "opened_at": self.opened_at,
            "exits": self.exits,
        }

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> Incident | None:
        """An incident read back from a file; None when it is not one (never raises)."""
        try:
            kind = str(raw["kind"])
            if kind not in ("oom", "exited", "unhealthy", "loop", "writes"):
                return None
            return Incident(
                service=str(raw["service"])[:100],
                kind=kind,  # type: ignore[arg-type]
                cause=str(raw["cause"])[:2000],
                fix=str(raw["fix"])[:2000],
                opened_at=float(raw["opened_at"]),
                exits=int(raw.get("exits", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Told:
    """Something to tell the user: an incident opened ("problem") or ended ("recovered")."""

    kind: Literal["problem", "recovered"]
    incident: Incident

    def notification(self) -> tuple[str, str]:
        inc = self.incident
        if self.kind == "recovered":
            return f"logtray: {inc.service} recovered", f"{inc.service} runs again."
        return f"logtray: {inc.title}", f"{inc.cause}\nfix: {inc.fix}"


# -- the words -------------------------------------------------------------------------------
def format_bytes(value: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            number = value / size
            return f"{number:.0f} {unit}" if number == int(number) else f"{number:.1f} {unit}"
    return f"{value} B"


def _mem_notation(value: int) -> str:
    """Docker's notation for a limit, as the config file takes it ("1g", "64m")."""
    for suffix, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


def exit_meaning(code: int) -> str:
    """What an exit code says, in words."""
    if code == 0:
        return "it ended by itself with code 0 (a service should keep running)"
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            return f"exit code {code}: killed by signal {code - 128}"
        why = {
            "SIGKILL": " (the OOM killer or `docker kill`; not a stop logtray asked for)",
            "SIGSEGV": " (a crash in native code)",
            "SIGABRT": " (it aborted)",
        }.get(name, "")
        return f"exit code {code}: killed by {name}{why}"
    known = {
        1: "an error in the program (its log says which)",
        2: "a wrong argument or setting",
        126: "its command cannot be executed",
        127: "its command was not found in the image",
    }
    return f"exit code {code}: {known.get(code, 'the program reported a failure')}"


def exit_cause(exit_code: int | None, oom_killed: bool, mem_limit: int | None) -> str:
    if oom_killed:
        limit = f"its {format_bytes(mem_limit)} memory limit" if mem_limit else "the memory"
        return f"Docker reports OOMKilled: it used all of {limit} (exit code {exit_code})"
    if exit_code is None:
        return "it stopped"
    return exit_meaning(exit_code)


def fix_for(service: str, kind: IncidentKind, mem_limit: int | None = None) -> str:
    logs = f"`logtray stack logs {service}` shows its last lines"
    if kind == "oom":
        now = f" (now {_mem_notation(mem_limit)})" if mem_limit else ""
        return (
            f"raise [stack.services.{service}] mem_limit{now} in the config file, then "
            f"Repair stack (or `logtray stack up`); {logs}"
        )
    if kind == "unhealthy":
        return f"{logs}; Repair stack (or `logtray stack up`) restarts it"
    return f"{logs}; Repair stack (or `logtray stack up`) starts it again"


def health_cause(output: str) -> str:
    text = " ".join(output.split())
    if len(text) > OUTPUT_CHARS:
        text = text[: OUTPUT_CHARS - 1] + "…"
    if not text:
        return "its health check fails (it printed nothing)"
    return f"its health check fails; it last said: {text!r}"


# -- from Docker's words -------------------------------------------------------------------
def observation_from_event(
    event: Mapping[str, Any],
    inspected: Mapping[str, Any] | None,
    has_healthcheck: bool,
    at: float,
) -> Observation | None:
    """An Observation from one container event (and the container's inspection, when there
    was one); None for an event that says nothing about incidents."""
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    service = attrs.get(LABEL_SERVICE)
    if not isinstance(service, str) or not service or len(service) > 100:
        return None  # not one of ours: logtray's service names are short
    action = str(event.get("Action") or event.get("status") or "")
    state = (inspected or {}).get("State") or {}
    host = (inspected or {}).get("HostConfig") or {}
    base = Observation(service, "started", at, has_healthcheck=has_healthcheck)
    if action == "start":
        return base
    if action == "kill":
        if str(attrs.get("signal", "")) in ("9", "SIGKILL", "KILL"):
            return None  # `docker kill`: the die that follows is an incident
        return replace(base, kind="stopping")
    if action == "destroy":
        return replace(base, kind="removed")
    if action.startswith("health_status"):
        health = action.partition(":")[2].strip()
        if health == "healthy":
            return replace(base, kind="healthy")
        if health != "unhealthy":
            return None
        log = (state.get("Health") or {}).get("Log") or []
        output = str(log[-1].get("Output", "")) if log and isinstance(log[-1], dict) else ""
        return replace(base, kind="unhealthy", health_output=output[:4000])
    if action == "die":
        try:
            code: int | None = int(attrs.get("exitCode", state.get("ExitCode", -1)))
        except (TypeError, ValueError):
            code = None
        memory = host.get("Memory")
        return replace(
            base,
            kind="died",
            exit_code=code,
            oom_killed=bool(state.get("OOMKilled")),
            mem_limit=int(memory) if isinstance(memory, int) and memory > 0 else None,
            will_restart=_will_restart(inspected or {}, code),
        )
    return None


def _will_restart(inspected: Mapping[str, Any], code: int | None) -> bool:
    """Docker's restart policy will start the container again after this exit."""
    if (inspected.get("State") or {}).get("Restarting"):
        return True
    policy = (inspected.get("HostConfig") or {}).get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    if name in ("always", "unless-stopped"):
        return True
    if name != "on-failure" or code in (0, None):
        return False
    try:
        most = int(policy.get("MaximumRetryCount") or 0)
        done = int(inspected.get("RestartCount") or 0)
    except (TypeError, ValueError):
        return False
    return most == 0 or done < most


# -- the book --------------------------------------------------------------------------------
@dataclass
class _Service:
    stopping: bool = False  # a stop was asked for; its exit is not an incident
    exits: list[float] = field(default_factory=list)  # recent exits Docker restarts from
    incident: Incident | None = None
    good_since: float | None = None  # running well since (healthy, or running without check)


class IncidentBook:
    def __init__(self) -> None:
        self._services: dict[str, _Service] = {}

    def open(self) -> tuple[Incident, ...]:
        """The incidents open now, oldest first."""
        out = [s.incident for s in self._services.values() if s.incident is not None]
        return tuple(sorted(out, key=lambda i: i.opened_at))

    def clear(self) -> None:
        """Forget everything without telling (the user stopped the stack)."""
        self._services.clear()

    def observe(self, obs: Observation) -> list[Told]:
        svc = self._services.setdefault(obs.service, _Service())
        told: list[Told] = []
        if obs.kind == "stopping":
            svc.stopping = True
            svc.good_since = None
        elif obs.kind == "started":
            svc.stopping = False
            svc.good_since = None if obs.has_healthcheck else obs.at
        elif obs.kind == "healthy":
            svc.good_since = obs.at if svc.good_since is None else svc.good_since
        elif obs.kind == "removed":
            svc.good_since = None
        elif obs.kind == "unhealthy":
            svc.good_since = None
            if svc.incident is None:
                told.append(self._open(svc, obs, "unhealthy", health_cause(obs.health_output)))
        elif obs.kind == "died":
            told += self._died(svc, obs)
        return told

    def _died(self, svc: _Service, obs: Observation) -> list[Told]:
        svc.good_since = None
        if svc.stopping:
            return []  # the stop that was asked for
        cause = exit_cause(obs.exit_code, obs.oom_killed, obs.mem_limit)
        if svc.incident is not None:
            svc.incident = replace(svc.incident, exits=svc.incident.exits + 1)
            return []
        if not obs.will_restart:
            kind: IncidentKind = "oom" if obs.oom_killed else "exited"
            return [self._open(svc, obs, kind, cause)]
        svc.exits = [t for t in svc.exits if obs.at - t < LOOP_WINDOW_S] + [obs.at]
        if len(svc.exits) < LOOP_EXITS:
            return []  # Docker starts it again: told when it becomes a loop
        span = obs.at - svc.exits[0]
        loop_cause = f"Docker restarted it {len(svc.exits)} times in {span:.0f} s; last: {cause}"
        told = self._open(svc, obs, "loop", loop_cause)
        if obs.oom_killed:  # the fix for a loop of OOM kills is memory
            svc.incident = replace(told.incident, fix=fix_for(obs.service, "oom", obs.mem_limit))
            told = Told("problem", svc.incident)
        svc.exits = []
        return [told]

    def _open(self, svc: _Service, obs: Observation, kind: IncidentKind, cause: str) -> Told:
        incident = Incident(
            obs.service,
            kind,
            cause,
            fix_for(obs.service, kind, obs.mem_limit),
            obs.at,
            exits=1 if obs.kind == "died" else 0,
        )
        svc.incident = incident
        return Told("problem", incident)

    def next_deadline(self) -> float | None:
        """When `tick` may tell a recovery; None when nothing waits."""
        times = [
            s.good_since + RECOVERED_AFTER_S
            for s in self._services.values()
            if s.incident is not None and s.good_since is not None
        ]
        return min(times) if times else None

    def tick(self, now: float) -> list[Told]:
        told: list[Told] = []
        for svc in self._services.values():
            if svc.incident is None or svc.good_since is None:
                continue
            if now - svc.good_since >= RECOVERED_AFTER_S:
                told.append(Told("recovered", svc.incident))
                svc.incident = None
                svc.exits = []
        return told


def explain_inspect(attrs: Mapping[str, Any]) -> str:
    """The whole text for a failed container from its inspection (`logtray stack status`):
    the cause and the fix; "" when it has not failed."""
    state = attrs.get("State") or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    service = str(labels.get(LABEL_SERVICE) or "<service>")
    memory = (attrs.get("HostConfig") or {}).get("Memory")
    mem_limit = int(memory) if isinstance(memory, int) and memory > 0 else None
    status = state.get("Status", "")
    restarts = attrs.get("RestartCount")
    if status in ("exited", "dead", "restarting"):
        try:
            code: int | None = int(state.get("ExitCode", 0))
        except (TypeError, ValueError):
            code = None
        oom = bool(state.get("OOMKilled"))
        cause = exit_cause(code, oom, mem_limit)
        kind: IncidentKind = "oom" if oom else "exited"
        if status == "restarting" and isinstance(restarts, int) and restarts:
            cause = f"Docker restarted it {restarts} times; last: {cause}"
        return f"{cause}; fix: {fix_for(service, kind, mem_limit)}"
    health = state.get("Health") or {}
    if status == "running" and health.get("Status") == "unhealthy":
        log = health.get("Log") or []
        output = str(log[-1].get("Output", "")) if log and isinstance(log[-1], dict) else ""
        return f"{health_cause(output)}; fix: {fix_for(service, 'unhealthy')}"
    return ""
