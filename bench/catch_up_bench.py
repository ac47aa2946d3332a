"""What reading on from a committed position costs, against one local tansu broker.

    .venv/bin/python -m bench.catch_up_bench            # ~100 s, every part
    .venv/bin/python -m bench.catch_up_bench durable    # ~40 s, the full profile's part only

- catch-up: a desktop (AlertService reading the alerts topic) stopped while N alerts are
  published; started again: seconds and this process's CPU-seconds from start to the one
  summary, and the history's records.
- live: a stream of alerts at R/s read for S seconds: position commits made, and CPU-seconds,
  beside the same stream read without committing (no group).
- engine: a backlog of M log records (info and errors) logged while the engine was stopped;
  started again: seconds and CPU-seconds until it has read them all.
- durable: the full profile's alerts kept on the stack's alerts topic. N alerts as Riemann
  sends them (a sender process: the topic record, then one TCP connection with the line) to a
  tray reading the topic beside its listener, against the same N over TCP only to a tray that
  does not read the topic; the tray's CPU-seconds (this process: the sender is another one),
  records and bytes per alert, position commits, and the idle reader's CPU. On a broker of
  its own: the parts before leave their alerts on the topic it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaProducer

from logtray.tray.alerts import kafka_source
from logtray.tray.base.config import load_config
from logtray.tray.delivery.notifiers.console import ConsoleNotifier
from logtray.tray.delivery.service import AlertService
from tests.pipeline.conftest import Broker, tansu_path

PROC = psutil.Process()


def cpu() -> float:
    times = PROC.cpu_times()
    return times.user + times.system


async def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()


class CommitCount:
    """kafka_source's position commits, counted while entered (each one still made)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> CommitCount:
        self._real = real = kafka_source._commit

        async def counting(*args: Any) -> None:
            self.count += 1
            await real(*args)

        kafka_source._commit = counting  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        kafka_source._commit = self._real  # type: ignore[assignment]


async def until(predicate: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.01)


def desktop(bootstrap: str) -> tuple[AlertService, io.StringIO]:
    out = io.StringIO()
    config = load_config({"alerts_topic": {"enabled": True, "bootstrap": bootstrap}})
    return AlertService(config, notifier=ConsoleNotifier(out)), out


async def catch_up(bootstrap: str, n: int) -> None:
    first, _ = desktop(bootstrap)
    await first.start(listen=False)
    await until(lambda: first._seen_started)
    await asyncio.sleep(1.0)  # let it place itself and commit (a bench, not a test)
    await first.stop()
    values = [
        json.dumps({"id": f"c-{i}", "pathname": f"/app/f{i % 50}.py", "count": 30}).encode()
        for i in range(n)
    ]
    # One per batch: tansu reports a partition's end as its last batch's first offset + 1.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for value in values:
        await producer.send_and_wait("logtray-alerts", value)
    await producer.stop()
    service, out = desktop(bootstrap)
    t0, c0 = time.monotonic(), cpu()
    await service.start(listen=False)
    await until(lambda: "logtray:caught-up" in out.getvalue())
    seconds, cpu_s = time.monotonic() - t0, cpu() - c0
    assert service.router is not None
    kept = len(service.router.history)
    await service.stop()
    print(f"catch-up of {n} missed alerts: {seconds:.2f} s, {cpu_s:.2f} CPU-s, {kept} in history")


@contextlib.contextmanager
def without_positions(on: bool) -> Iterator[None]:
    """While entered (when `on`), the service's readers keep no position (no group): the same
    reader without committing. Put back on leaving, so the parts run after this one (durable)
    read with their positions again."""
    if not on:
        yield
        return
    from logtray.tray.delivery import service as service_module

    real = service_module.Resume
    service_module.Resume = lambda *args: None  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        service_module.Resume = real  # type: ignore[misc]


async def live(bootstrap: str, rate: int, seconds: float) -> None:
    for resume in (True, False):
        service, _ = desktop(bootstrap)
        with without_positions(not resume), CommitCount() as commits:
            await service.start(listen=False)
            await asyncio.sleep(1.0)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            c0 = cpu()
            t0 = time.monotonic()
            sent = 0
            while time.monotonic() - t0 < seconds:
                value = {"id": f"l-{resume}-{sent}", "pathname": f"/app/l{sent}.py", "count": 30}
                await producer.send_and_wait("logtray-alerts", json.dumps(value).encode())
                sent += 1
                await asyncio.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
            await producer.stop()
            assert service.router is not None
            router = service.router
            await until(lambda r=router, n=sent: r.accepted >= n)
            cpu_s = cpu() - c0
            await service.stop()
        what = "committing" if resume else "no position"
        print(
            f"live {rate}/s for {seconds:g} s, {what}: {commits.count} commits, {cpu_s:.2f} CPU-s"
        )


async def engine(bootstrap: str, m: int) -> None:
    config = load_config(
        {"engine": {"bootstrap": bootstrap, "topic": "program-logs"}, "stack": {"heartbeat_s": 0}}
    )
    info = json.dumps({"level": "info", "pathname": "/app/x.py", "message": "ok"}).encode()
    first = AlertService(config, notifier=ConsoleNotifier(io.StringIO()))
    await first.start(listen=False)
    first.start_engine()
    assert first.engine is not None
    while first.engine.rule.events == 0:
        await publish(bootstrap, "program-logs", [info])
        await asyncio.sleep(0.5)
    await first.stop()
    base = time.time() - 600
    values = []
    for i in range(m):
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i * 0.01)) + "Z"
        level = "error" if i % 10 == 0 else "info"
        values.append(
            json.dumps(
                {"@timestamp": at, "level": level, "pathname": f"/app/f{i % 20}.py", "lineno": 1}
            ).encode()
        )
    await publish(bootstrap, "program-logs", values)
    service = AlertService(config, notifier=ConsoleNotifier(io.StringIO()))
    t0, c0 = time.monotonic(), cpu()
    await service.start(listen=False)
    service.start_engine()
    eng = service.engine
    assert eng is not None
    await until(lambda: eng.rule.events >= m)
    seconds, cpu_s = time.monotonic() - t0, cpu() - c0
    await service.stop()
    print(f"engine backlog of {m} records: {seconds:.2f} s, {cpu_s:.2f} CPU-s")


def riemann_record(i: int, evidence: bool) -> dict[str, Any]:
    """An alert as riemann.config writes it to the topic (the TCP line adds the token);
    `evidence`: at its bounds (5 messages of 300 characters, 20 lines, the last error)."""
    record: dict[str, Any] = {
        "pathname": f"/app/services/payments/f{i % 50}.py",
        "lineno": 42,
        "count": 26,
        "window_s": 10,
        "threshold": 25,
        "message": "payment provider timed out after 30 s (order 12345)",
        "level": "ERROR",
        "service": "payments",
        "time": "2026-12-07T13:00:00.000Z",
        "id": f"{i:020x}",
    }
    if evidence:
        record["evidence"] = {
            "messages": [{"message": "x" * 300, "count": 5} for _ in range(5)],
            "lines": list(range(20)),
            "first": "2026-12-07T12:59:50.100Z",
            "last": "2026-12-07T13:00:00.000Z",
            "error_type": "TimeoutError",
            "error_message": "y" * 300,
        }
    return record


def send_as_riemann(bootstrap: str | None, port: int, n: int, rate: int) -> None:
    """The sender process: each alert to the topic (bootstrap given; acks=1, as riemann.config)
    and then over its own TCP connection, paced at `rate` per second."""

    async def run() -> None:
        producer = None
        if bootstrap is not None:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
            await producer.start()
        t0 = time.monotonic()
        try:
            for i in range(n):
                # Each run its own ids: the history of the run before holds the others.
                record = riemann_record(i + (n if bootstrap else 0), evidence=False)
                if producer is not None:
                    await producer.send_and_wait(TOPIC, json.dumps(record).encode())
                line = json.dumps({**record, "token": "bench-token"}).encode() + b"\n"
                with socket.create_connection(("127.0.0.1", port)) as conn:
                    conn.sendall(line)
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
        finally:
            if producer is not None:
                await producer.stop()

    asyncio.run(run())


TOPIC = "logtray-alerts"


def tray(port: int) -> tuple[AlertService, io.StringIO]:
    out = io.StringIO()
    config = load_config(
        {
            "listener": {"port": port, "token": "bench-token", "hosts": ["127.0.0.1"]},
            "alerts": {"history_size": 100_000},
        }
    )
    return AlertService(config, notifier=ConsoleNotifier(out)), out


async def durable_run(bootstrap: str, n: int, rate: int, kept: bool) -> dict[str, float]:
    with CommitCount() as commits:
        port = free_port()
        service, _ = tray(port)
        await service.start()
        if kept:
            service.start_stack_alerts(bootstrap, TOPIC)
        await asyncio.sleep(2.0)  # placed on the topic (a bench, not a test)
        router = service.router
        assert router is not None
        c0, t0 = cpu(), time.monotonic()
        sender = multiprocessing.get_context("spawn").Process(
            target=send_as_riemann, args=(bootstrap if kept else None, port, n, rate)
        )
        sender.start()
        # Every alert accepted once; kept, each one's second copy read too (dropped by its id).
        await until(lambda: router.accepted >= n and (not kept or router.duplicates >= n))
        cpu_s, seconds = cpu() - c0, time.monotonic() - t0
        await asyncio.to_thread(sender.join, 60)
        await service.stop()
        return {
            "cpu": cpu_s,
            "seconds": seconds,
            "commits": commits.count,
            "dupes": router.duplicates,
        }


async def idle_cpu(bootstrap: str, kept: bool, seconds: float) -> float:
    service, _ = tray(free_port())
    await service.start()
    if kept:
        service.start_stack_alerts(bootstrap, TOPIC)
    await asyncio.sleep(2.0)
    c0 = cpu()
    await asyncio.sleep(seconds)
    used = cpu() - c0
    await service.stop()
    return used


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def durable(bootstrap: str, n: int, rate: int, idle_s: float) -> None:
    from logtray.stack.topics import TopicSpec, ensure_topics

    await asyncio.to_thread(ensure_topics, bootstrap, (TopicSpec(TOPIC, 7 * 86_400_000),))
    tcp = await durable_run(bootstrap, n, rate, kept=False)
    kept = await durable_run(bootstrap, n, rate, kept=True)
    plain = len(json.dumps(riemann_record(0, evidence=False)).encode())
    full = len(json.dumps(riemann_record(0, evidence=True)).encode())
    # Kafka's record format v2: a 61-byte batch header, and per record a few bytes of
    # lengths and deltas (one alert per batch: riemann.config sends each on its own).
    print(f"durable: {n} alerts at {rate}/s, tray side (the sender is another process)")
    print(f"  TCP only:          {tcp['cpu']:.2f} CPU-s, all told after {tcp['seconds']:.1f} s")
    print(
        f"  topic + TCP:       {kept['cpu']:.2f} CPU-s ({kept['cpu'] / tcp['cpu']:.2f}x), "
        f"all told after {kept['seconds']:.1f} s, {int(kept['dupes'])} second copies dropped, "
        f"{int(kept['commits'])} position commits"
    )
    print(
        f"  kept per alert:    1 record; value {plain} B (evidence at its bounds: {full} B) "
        f"+ ~70 B of batch framing; for {7} days"
    )
    without = await idle_cpu(bootstrap, False, idle_s)
    reading = await idle_cpu(bootstrap, True, idle_s)
    print(
        f"  idle {idle_s:g} s:         {without:.2f} CPU-s without the reader, "
        f"{reading:.2f} CPU-s reading the topic"
    )


@contextlib.contextmanager
def running_broker(binary: Path, log: Path) -> Iterator[str]:
    """A tansu broker of its own for one part: its bootstrap while entered."""
    broker = Broker(binary, log)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def main() -> None:
    binary = tansu_path()
    if binary is None:
        raise SystemExit("tansu is missing (the `test` extra)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[name] = str(Path(tmp) / name)
        if "durable" not in sys.argv[1:]:
            with running_broker(binary, Path(tmp) / "tansu.log") as bootstrap:
                asyncio.run(catch_up(bootstrap, 1000))
                asyncio.run(engine(bootstrap, 100_000))
                asyncio.run(live(bootstrap, 50, 10.0))
        # The durable part on a broker of its own: the parts before leave their alerts on the
        # same topic, which its reader's first start would read back and count as second copies.
        with running_broker(binary, Path(tmp) / "tansu-durable.log") as bootstrap:
            asyncio.run(durable(bootstrap, 1000, 100, 20.0))


if __name__ == "__main__":
    main()
