"""The listener side of bench/flood.py: logtray's real alert path in one process.

Runs AlertService (listener -> history -> policy -> notifier) with the configured notifier and
prints one JSON line of measurements when it has accepted BENCH_EXPECT alerts.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time

import psutil

from logtray.tray.base.config import ensure_token, load_config
from logtray.tray.delivery.service import AlertService


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    expect = int(os.environ["BENCH_EXPECT"])
    config = ensure_token(load_config())
    service = AlertService(config)
    await service.start()
    assert service.router and service.listener
    router, listener = service.router, service.listener
    rss_start = psutil.Process().memory_info().rss
    marks: list[float] = []
    done = asyncio.Event()
    accept = router.accept

    def timed_accept(alert, peer, received_at):  # type: ignore[no-untyped-def]
        accept(alert, peer, received_at)
        if router.accepted == 1 or router.accepted == expect:
            marks.append(time.perf_counter())
            if router.accepted == expect:
                done.set()

    listener.sink = timed_accept
    print(json.dumps({"ready": listener.addresses[0][1]}), flush=True)
    await done.wait()
    first, last = marks[0], marks[-1]
    await asyncio.sleep(0.5)  # let queued notices reach the notifier
    latencies = list(router.latencies)
    result = {
        "accepted": router.accepted,
        "seconds": last - first,
        "lines_per_s": (router.accepted - 1) / max(1e-9, last - first),
        "notifier": router.notifier.name,
        "notifier_calls": router.shown,
        "latency_p50_ms": pct(latencies, 0.50) * 1000,
        "latency_p99_ms": pct(latencies, 0.99) * 1000,
        "latency_mean_ms": statistics.fmean(latencies) * 1000 if latencies else None,
        "handling_p50_ms": pct(list(router.handling_latencies), 0.50) * 1000,
        "handling_p99_ms": pct(list(router.handling_latencies), 0.99) * 1000,
        "rss_start_mb": rss_start / 2**20,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "history_len": len(router.history),
        "history_appended": router.history.appended,
        "listener": vars(listener.stats),
    }
    await service.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
