"""Stack events told (stack/incidents.py): pure rules, events in, incidents and their words out."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.stack.incidents import (
    OUTPUT_CHARS,
    RECOVERED_AFTER_S,
    Incident,
    IncidentBook,
    Observation,
    Told,
    observation_from_event,
)
from logtray.stack.labels import LABEL_SERVICE, LABEL_STACK

MIB = 1024**2


def died(service: str, at: float, code: int = 1, **kw: Any) -> Observation:
    return Observation(service, "died", at, exit_code=code, **kw)


def test_an_oom_kill_is_told_once_with_the_limit_and_the_fix() -> None:
    book = IncidentBook()
    told = book.observe(died("demo", 10.0, 137, oom_killed=True, mem_limit=48 * MIB))
    assert len(told) == 1 and told[0].kind == "problem"
    title, body = told[0].notification()
    assert title == "logtray: demo was killed: out of memory"
    assert "OOMKilled" in body and "48 MiB memory limit" in body and "exit code 137" in body
    assert "fix: raise [stack.services.demo] mem_limit (now 48m)" in body
    assert "`logtray stack logs demo`" in body and "Repair stack" in body
    # More exits of the same episode are not told again.
    assert book.observe(Observation("demo", "started", 11.0)) == []
    assert book.observe(died("demo", 12.0, 137, oom_killed=True)) == []
    assert [i.service for i in book.open()] == ["demo"]


def test_a_sigkill_and_exit_codes_say_what_they_mean() -> None:
    book = IncidentBook()
    (told,) = book.observe(died("kafka", 1.0, 137))
    assert told.incident.title == "kafka stopped"
    assert "killed by SIGKILL" in told.incident.cause
    (told,) = IncidentBook().observe(died("x", 1.0, 127))
    assert "command was not found" in told.incident.cause
    (told,) = IncidentBook().observe(died("x", 1.0, 0))
    assert "code 0" in told.incident.cause
    (told,) = IncidentBook().observe(died("x", 1.0, 139))
    assert "SIGSEGV" in told.incident.cause


def test_a_stop_that_was_asked_for_is_not_told() -> None:
    book = IncidentBook()
    assert book.observe(Observation("kafka", "stopping", 1.0)) == []
    assert book.observe(died("kafka", 1.5, 143)) == []
    assert book.observe(Observation("kafka", "removed", 2.0)) == []
    assert book.open() == ()
    # Started again: the next exit is an incident again.
    book.observe(Observation("kafka", "started", 3.0))
    assert len(book.observe(died("kafka", 4.0, 137))) == 1


def test_unhealthy_is_told_with_the_checks_last_output_bounded() -> None:
    book = IncidentBook()
    hostile = "connection refused\n" + "x" * 10_000
    (told,) = book.observe(Observation("es", "unhealthy", 5.0, health_output=hostile))
    assert "connection refused" in told.incident.cause
    assert len(told.incident.cause) < OUTPUT_CHARS + 100
    assert "Repair stack" in told.incident.fix
    assert book.observe(Observation("es", "unhealthy", 6.0)) == []


def test_a_restart_loop_is_told_once_at_the_third_exit_and_its_recovery_once() -> None:
    book = IncidentBook()
    t = 0.0
    told: list[Told] = []
    for _ in range(6):
        told += book.observe(died("riemann", t, 3, will_restart=True))
        t += 0.5
        told += book.observe(Observation("riemann", "started", t))
        t += 1.5
    assert [x.kind for x in told] == ["problem"]
    assert told[0].incident.kind == "loop"
    assert "restarted it 3 times" in told[0].incident.cause
    assert "exit code 3" in told[0].incident.cause
    # It runs well again: "recovered" once, after RECOVERED_AFTER_S.
    assert book.next_deadline() == t - 1.5 + RECOVERED_AFTER_S
    assert book.tick(t) == []
    (back,) = book.tick(t + RECOVERED_AFTER_S)
    assert back.kind == "recovered" and back.notification()[0] == "logtray: riemann recovered"
    assert book.tick(t + 100) == [] and book.open() == ()


def test_one_exit_that_docker_restarts_from_is_not_told() -> None:
    book = IncidentBook()
    assert book.observe(died("demo", 0.0, 1, will_restart=True)) == []
    book.observe(Observation("demo", "started", 1.0))
    assert book.observe(died("demo", 500.0, 1, will_restart=True)) == []  # outside the window


def test_a_service_with_a_healthcheck_recovers_when_healthy() -> None:
    book = IncidentBook()
    book.observe(died("kafka", 0.0, 137))
    book.observe(Observation("kafka", "started", 5.0, has_healthcheck=True))
    assert book.next_deadline() is None  # started, not yet healthy
    book.observe(Observation("kafka", "healthy", 7.0, has_healthcheck=True))
    assert [t.kind for t in book.tick(7.0 + RECOVERED_AFTER_S)] == ["recovered"]


def test_incidents_survive_a_round_trip_and_junk_is_refused() -> None:
    (told,) = IncidentBook().observe(died("demo", 1.0, 137, oom_killed=True, mem_limit=MIB))
    assert Incident.from_json(told.incident.to_json()) == told.incident
    for junk in ({}, {"kind": "nope"}, {"kind": "oom", "service": "x"}, {"opened_at": "x"}):
        assert Incident.from_json(junk) is None


# -- properties ---------------------------------------------------------------------------------
SERVICES = ("kafka", "demo")
observations = st.lists(
    st.tuples(
        st.sampled_from(SERVICES),
        st.sampled_from(("started", "stopping", "died", "healthy", "unhealthy", "removed")),
        st.floats(min_value=0, max_value=30),  # time step
        st.integers(min_value=0, max_value=255),
        st.booleans(),  # oom
        st.booleans(),  # will restart
        st.booleans(),  # has a healthcheck
    ),
    max_size=60,
)


def _run(steps: Any, book: IncidentBook) -> list[Told]:
    told: list[Told] = []
    t = 0.0
    for service, kind, step, code, oom, restart, hc in steps:
        t += step
        told += book.tick(t)
        obs = Observation(
            service,
            kind,
            t,
            exit_code=code,
            oom_killed=oom,
            will_restart=restart,
            has_healthcheck=hc,
        )
        told += book.observe(obs)
    return told


@settings(max_examples=300, deadline=None)
@given(observations)
def test_one_problem_per_episode_and_one_recovery_per_problem(steps: Any) -> None:
    book = IncidentBook()
    told = _run(steps, book)
    for service in SERVICES:
        kinds = [t.kind for t in told if t.incident.service == service]
        # problem, recovered, problem, recovered, …: never two problems in one episode.
        assert all(k == ("problem" if i % 2 == 0 else "recovered") for i, k in enumerate(kinds))
        is_open = any(i.service == service for i in book.open())
        assert is_open == (len(kinds) % 2 == 1)
    for t in told:
        title, body = t.notification()
        assert t.incident.service in title
        if t.kind == "problem":
            assert "fix: " in body


@settings(max_examples=300, deadline=None)
@given(observations)
def test_exits_after_a_stop_was_asked_for_are_never_told(steps: Any) -> None:
    # Every exit preceded by the stop Docker announces, and no health verdicts: nothing is told.
    asked = []
    for service, kind, step, code, oom, restart, hc in steps:
        if kind == "unhealthy":
            continue
        if kind == "died":
            asked.append((service, "stopping", step, code, oom, restart, hc))
            step = 0.0
        asked.append((service, kind, step, code, oom, restart, hc))
    assert _run(asked, IncidentBook()) == []


# -- from Docker's events --------------------------------------------------------------------
def _event(action: str, **attrs: str) -> dict[str, Any]:
    return {
        "Action": action,
        "Actor": {"Attributes": {LABEL_STACK: "s", LABEL_SERVICE: "demo", **attrs}},
    }


def test_observations_from_docker_events_and_inspections() -> None:
    inspected = {
        "State": {"OOMKilled": True, "ExitCode": 137, "Restarting": False},
        "HostConfig": {"Memory": 64 * MIB, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}},
        "RestartCount": 0,
    }
    obs = observation_from_event(_event("die", exitCode="137"), inspected, False, 1.0)
    assert obs == Observation("demo", "died", 1.0, 137, True, 64 * MIB, False)
    assert observation_from_event(_event("kill", signal="15"), None, False, 1.0).kind == "stopping"  # type: ignore[union-attr]
    assert observation_from_event(_event("kill", signal="9"), None, False, 1.0) is None
    health = {"State": {"Health": {"Log": [{"ExitCode": 1, "Output": "refused\n"}]}}}
    obs = observation_from_event(_event("health_status: unhealthy"), health, True, 2.0)
    assert obs is not None and obs.health_output == "refused\n"
    looping = {
        "State": {},
        "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
        "RestartCount": 2,
    }
    obs = observation_from_event(_event("die", exitCode="3"), looping, False, 3.0)
    assert obs is not None and obs.will_restart
    assert observation_from_event({"Action": "die"}, None, False, 1.0) is None


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
        ),
        max_leaves=10,
    ),
    st.sampled_from(("die", "kill", "start", "destroy", "health_status: unhealthy", "oom", "x")),
)
def test_any_event_and_inspection_never_raise(
    attrs: dict[str, str], junk: Any, action: str
) -> None:
    event = {"Action": action, "Actor": {"Attributes": {**attrs, LABEL_SERVICE: "demo"}}}
    inspected = {"State": junk, "HostConfig": junk, "RestartCount": junk}
    try:
        obs = observation_from_event(
            event, inspected if isinstance(junk, dict) else None, True, 1.0
        )
    except (AttributeError, TypeError) as exc:  # pragma: no cover - shown on failure
        raise AssertionError(f"raised {exc!r}") from exc
    if obs is not None:
        IncidentBook().observe(obs)
