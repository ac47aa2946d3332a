"""What reading on from a committed position costs, against one local tansu broker.

    .venv/bin/python -m bench.catch_up_bench        # ~30 s

- catch-up: a desktop (AlertService reading the alerts topic) stopped while N alerts are
  published; started again: seconds and this process's CPU-seconds from start to the one
  summary, and the history's records.
- live: a stream of alerts at R/s read for S seconds: position commits made, and CPU-seconds,
  beside the same stream read without committing (no group).
- engine: a backlog of M log records (info and errors) logged while the engine was stopped;
  started again: seconds and CPU-seconds until it has read them all.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
import time
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


async def live(bootstrap: str, rate: int, seconds: float) -> None:
    commits = 0
    real_commit = kafka_source._commit

    async def counting(*args: Any) -> None:
        nonlocal commits
        commits += 1
        await real_commit(*args)

    for resume in (True, False):
        service, _ = desktop(bootstrap)
        kafka_source._commit = counting  # type: ignore[assignment]
        if not resume:
            # The same reader without a position: what committing adds.
            from logtray.tray.delivery import service as service_module

            service_module.Resume = lambda *args: None  # type: ignore[assignment,misc]
        commits = 0
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
        print(f"live {rate}/s for {seconds:g} s, {what}: {commits} commits, {cpu_s:.2f} CPU-s")


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


def main() -> None:
    binary = tansu_path()
    if binary is None:
        raise SystemExit("tansu is missing (the `test` extra)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[name] = str(Path(tmp) / name)
        broker = Broker(binary, Path(tmp) / "tansu.log")
        broker.start()
        try:
            asyncio.run(catch_up(broker.bootstrap, 1000))
            asyncio.run(engine(broker.bootstrap, 100_000))
            asyncio.run(live(broker.bootstrap, 50, 10.0))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
