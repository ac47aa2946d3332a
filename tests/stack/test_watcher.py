"""The watcher's bookkeeping of which container and which start an event belongs to.

The events stream is the true edge here: a fake client feeds events from a queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from logtray.stack.labels import LABEL_SERVICE, LABEL_STACK
from logtray.stack.manager import StackManager
from logtray.stack.specs import ServiceSpec
from logtray.stack.status import ServiceStatus
from logtray.stack.watcher import StatusWatcher

STACK = "lt-unit"


class FakeStream:
    """Events from a queue. `done` counts events the watcher has finished with: the generator
    is resumed only once the watcher's loop has applied the previous event."""

    def __init__(self) -> None:
        self.q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.done = 0
        self.cond = threading.Condition()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            item = self.q.get()
            if item is None:
                return
            yield item
            with self.cond:
                self.done += 1
                self.cond.notify_all()

    def close(self) -> None:
        self.q.put(None)


class FakeContainers:
    def list(self, **kwargs: Any) -> list[Any]:
        return []


class FakeClient:
    def __init__(self) -> None:
        self.stream = FakeStream()
        self.containers = FakeContainers()

    def events(self, **kwargs: Any) -> FakeStream:
        assert kwargs["filters"]["event"]  # never the unfiltered, healthcheck-flooded stream
        return self.stream


def event(action: str, cid: str, t: int, service: str = "kafka", **attrs: str) -> dict[str, Any]:
    return {
        "Action": action,
        "id": cid,
        "timeNano": t,
        "Actor": {"ID": cid, "Attributes": {LABEL_STACK: STACK, LABEL_SERVICE: service, **attrs}},
    }


def settle(watcher: StatusWatcher, client: FakeClient, *events: dict[str, Any]) -> None:
    """Feed events and return once the watcher has applied every one of them."""
    stream = client.stream
    with stream.cond:
        target = stream.done + stream.q.qsize() + len(events)
    for e in events:
        stream.q.put(e)
    with stream.cond:
        applied = stream.cond.wait_for(lambda: stream.done >= target, timeout=30)
    assert applied, f"the watcher applied {stream.done} of {target} events within 30 s"


def test_events_of_a_replaced_container_or_an_earlier_run_are_ignored() -> None:
    client = FakeClient()
    seen: list[tuple[str, str]] = []
    w = StatusWatcher(client, STACK, {"kafka": True}, lambda s, st: seen.append((s, st.state)))  # type: ignore[arg-type]
    try:
        w.mark("kafka", ServiceStatus("starting"), "new", since_ns=100)
        settle(
            w,
            client,
            event("die", "old", 90, exitCode="137"),  # the replaced container dying
            event("destroy", "old", 95),
            event("health_status: unhealthy", "new", 50),  # before this start
        )
        assert w.get("kafka").state == "starting"
        settle(w, client, event("health_status: healthy", "new", 150))
        assert w.get("kafka").state == "healthy"
        # An event of another stack, or without a service label, changes nothing.
        other = event("die", "x", 200)
        other["Actor"]["Attributes"][LABEL_STACK] = "someone-else"
        settle(w, client, other)
        assert w.get("kafka").state == "healthy"
        # A new container of the service (recreated by another process) is followed.
        settle(w, client, event("create", "newer", 300), event("start", "newer", 310))
        assert w.get("kafka").state == "starting"
        settle(w, client, event("die", "newer", 320, exitCode="1"))
        assert w.get("kafka") == ServiceStatus("exited", exit_code=1)
    finally:
        w.close()
    assert ("kafka", "healthy") in seen


def test_wait_returns_on_ready_failure_timeout_and_abort() -> None:
    client = FakeClient()
    w = StatusWatcher(client, STACK, {"kafka": True, "demo": False})  # type: ignore[arg-type]
    try:
        t0 = time.monotonic()
        assert w.wait("kafka", 0.2).state == "absent"
        assert time.monotonic() - t0 >= 0.15  # it did wait (the upper side is load-dependent)
        w.mark("kafka", ServiceStatus("starting"), "k", since_ns=1)
        client.stream.q.put(event("health_status: healthy", "k", 5))
        assert w.wait("kafka", 5).state == "healthy"
        client.stream.q.put(event("start", "d", 5, service="demo"))
        assert w.wait("demo", 5).state == "running"  # no healthcheck: running is ready
        w.mark("demo", ServiceStatus("starting"), "d2", since_ns=10)
        t0 = time.monotonic()
        w.abort()
        assert w.wait("demo", 120).state == "starting"
        assert time.monotonic() - t0 < 60  # woken by abort, not by the 120 s timeout
    finally:
        w.close()


def test_probe_pass_only_promotes_the_current_start() -> None:
    client = FakeClient()
    w = StatusWatcher(client, STACK, {"kafka": True})  # type: ignore[arg-type]
    try:
        w.mark("kafka", ServiceStatus("starting"), "k", since_ns=1)
        w.probe_passed("kafka", "other")
        assert w.get("kafka").state == "starting"
        w.probe_passed("kafka", "k")
        assert w.get("kafka").state == "healthy"
        w.mark("kafka", ServiceStatus("exited", exit_code=1), "k2", since_ns=5)
        w.probe_passed("kafka", "k2")
        assert w.get("kafka").state == "exited"
    finally:
        w.close()


def test_a_changed_bind_mounted_file_changes_the_hash(tmp_path: Path) -> None:
    config = tmp_path / "riemann.config"
    config.write_text("(streams)")
    spec = ServiceSpec(name="riemann", image="x", binds={str(config): "/etc/riemann.config"})
    manager = StackManager(FakeClient(), STACK, [spec])  # type: ignore[arg-type]
    before = manager.desired_hashes({"riemann": "sha256:1"})
    assert manager.desired_hashes({"riemann": "sha256:1"}) == before
    config.write_text("(streams (changed))")
    assert manager.desired_hashes({"riemann": "sha256:1"}) != before
    assert manager.desired_hashes({"riemann": "sha256:2"}) != before
