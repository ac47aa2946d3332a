"""Status from inspections and events, and pull progress: pure functions."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from logtray.stack.progress import PullProgress
from logtray.stack.status import ABSENT, ServiceStatus, apply_event, from_inspect
from logtray.stack.watcher import parse_docker_time


def inspect(status: str, health: str | None = None, code: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": status, "ExitCode": code}
    if health:
        state["Health"] = {"Status": health}
    return {"State": state}


def test_from_inspect() -> None:
    assert from_inspect(inspect("running", "healthy")).state == "healthy"
    assert from_inspect(inspect("running", "starting")).state == "starting"
    assert from_inspect(inspect("running", "unhealthy")).state == "unhealthy"
    assert from_inspect(inspect("running")).state == "running"
    exited = from_inspect(inspect("exited", code=3))
    assert (exited.state, exited.exit_code) == ("exited", 3)
    # The whole text `logtray stack status` prints: the cause in words and the fix.
    assert exited.detail.startswith("exit code 3: the program reported a failure; fix: ")
    oom = inspect("exited", code=137)
    oom["State"]["OOMKilled"] = True
    oom["HostConfig"] = {"Memory": 64 * 1024**2}
    oom["Config"] = {"Labels": {"io.logtray.service": "demo"}}
    assert "OOMKilled: it used all of its 64 MiB memory limit" in from_inspect(oom).detail
    assert "[stack.services.demo] mem_limit (now 64m)" in from_inspect(oom).detail
    sick = inspect("running", "unhealthy")
    sick["State"]["Health"]["Log"] = [{"ExitCode": 1, "Output": "wget: refused"}]
    assert "it last said: 'wget: refused'" in from_inspect(sick).detail
    # Podman: exited, not yet cleaned up (its health may still say "starting").
    assert from_inspect(inspect("stopped", "starting", code=78)).state == "exited"
    assert from_inspect(inspect("created")).state == "starting"


def ev(action: str, **attrs: str) -> dict[str, Any]:
    return {"Action": action, "Actor": {"Attributes": attrs}}


def test_apply_event_sequence() -> None:
    s = apply_event(ABSENT, ev("create"), True)
    assert s.state == "starting"
    s = apply_event(s, ev("start"), True)
    assert s.state == "starting"
    s = apply_event(s, ev("health_status: healthy"), True)
    assert s.state == "healthy"
    s = apply_event(s, ev("health_status: unhealthy"), True)
    assert s.state == "unhealthy"
    s = apply_event(s, ev("die", exitCode="137"), True)
    assert s == ServiceStatus("exited", exit_code=137)
    assert apply_event(s, ev("destroy"), True) == ABSENT


def test_start_without_healthcheck_is_running() -> None:
    assert apply_event(ABSENT, ev("start"), False).state == "running"


def test_describe_and_json() -> None:
    assert ServiceStatus("pulling", percent=42.4).describe() == "pulling 42%"
    assert ServiceStatus("exited", exit_code=1).describe() == "exited (1)"
    assert ServiceStatus("exited", exit_code=1).to_json() == {"state": "exited", "exit_code": 1}


def test_parse_docker_time() -> None:
    assert parse_docker_time("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_docker_time("2026-11-25T06:40:01.123456789Z") % 1_000_000_000 == 123456789
    assert parse_docker_time("0001-01-01T00:00:00Z") == 0


def test_pull_progress_aggregates_layers() -> None:
    p = PullProgress()
    assert p.percent is None
    p.update({"status": "Pulling from library/x", "id": "1.0"})
    p.update({"status": "Pulling fs layer", "id": "a"})
    p.update({"status": "Pulling fs layer", "id": "b"})
    p.update({"status": "Downloading", "id": "a", "progressDetail": {"current": 50, "total": 100}})
    assert p.percent == 25.0  # b's size unknown: weighs as the average layer
    p.update({"status": "Downloading", "id": "b", "progressDetail": {"current": 0, "total": 300}})
    assert p.percent == 25.0  # never backwards, even when b turns out large
    p.update({"status": "Download complete", "id": "a"})
    p.update({"status": "Downloading", "id": "b", "progressDetail": {"current": 300, "total": 300}})
    assert p.percent == 100.0


def test_pull_progress_all_layers_exist() -> None:
    p = PullProgress()
    for layer in "abc":
        p.update({"status": "Already exists", "id": layer})
    assert p.percent == 100.0


messages = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(
                [
                    "Pulling fs layer",
                    "Downloading",
                    "Download complete",
                    "Pull complete",
                    "Already exists",
                    "Waiting",
                    "Extracting",
                ]
            ),
            "id": st.sampled_from(["a", "b", "c", "d"]),
            "progressDetail": st.fixed_dictionaries(
                {
                    "current": st.integers(min_value=0, max_value=10**9),
                    "total": st.integers(min_value=1, max_value=10**9),
                }
            ),
        }
    ),
    max_size=60,
)


@given(messages)
def test_pull_progress_is_monotonic_and_bounded(msgs: list[dict[str, Any]]) -> None:
    p = PullProgress()
    last = 0.0
    for m in msgs:
        value = p.update(m)
        assert value is not None
        assert 0.0 <= value <= 100.0
        assert value >= last
        last = value
