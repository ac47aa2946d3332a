"""Readiness probes from the host, through a service's published port, over its own protocol.

A probe is one request: an HTTP GET for Elasticsearch and Kibana, a Kafka Metadata request
(aiokafka's bootstrap: ApiVersions, then Metadata) for Kafka. Nothing runs in the container,
so a probe costs the host a few milliseconds and the service one request. `ReadinessProbe`
adds what one request cannot tell: how long a tolerated answer (Kibana's "degraded") has lasted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logtray.stack.specs import HttpReadiness, KafkaReadiness, Readiness


@dataclass(frozen=True)
class Seen:
    """One probe's outcome: ready or not, what was seen (for messages), and the JSON value at
    the check's path when there is one."""

    ok: bool
    text: str
    value: Any = None
    # The service's own words about the value (Kibana's status.overall.summary).
    about: str = ""


def _json_at(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def probe_http(check: HttpReadiness, host_port: int, timeout: float = 2.0) -> Seen:
    """GET http://127.0.0.1:<host_port><path>: ready on 200 (and the JSON value, if asked)."""
    url = f"http://127.0.0.1:{host_port}{check.path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read(1_000_000)
            status = resp.status
    except urllib.error.HTTPError as exc:
        return Seen(False, f"{url} answered {exc.code}")
    except (OSError, ValueError) as exc:
        return Seen(False, f"{url}: {exc}")
    if status != 200:
        return Seen(False, f"{url} answered {status}")
    if not check.json_path:
        return Seen(True, f"{url} answered 200")
    try:
        data = json.loads(body)
    except ValueError:
        return Seen(False, f"{url} did not answer JSON")
    value = _json_at(data, check.json_path)
    where = ".".join(check.json_path)
    summary = _json_at(data, check.summary_path) if check.summary_path else None
    summary = summary if isinstance(summary, str) else ""
    about = f" ({summary})" if summary else ""
    if value == check.json_value:
        return Seen(True, f"{url}: {where} = {value}{about}", value, summary)
    wanted = f"waiting for {check.json_value!r}"
    return Seen(False, f"{url}: {where} = {value!r}{about}, {wanted}", value, summary)


# aiokafka logs an ERROR for every failed bootstrap; for a probe that is expected to fail until
# the broker is up (docker-proxy accepts connections before the broker listens) they are noise.
# Dropped only in the thread that is probing, so a Kafka client elsewhere keeps its records.
_probing = threading.local()


class _QuietWhileProbing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_probing, "on", False)


for _name in ("aiokafka", "aiokafka.conn"):
    logging.getLogger(_name).addFilter(_QuietWhileProbing())


async def _kafka_brokers(bootstrap: str, timeout: float) -> list[tuple[int, str, int]]:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return [(b.nodeId, b.host, b.port) for b in client.cluster.brokers()]
    finally:
        await client.close()


def probe_kafka(host_port: int, timeout: float = 2.0) -> Seen:
    """Ready when the broker answers a Metadata request with at least one broker."""
    address = f"127.0.0.1:{host_port}"
    # A plain connect first: while nothing listens yet this is all a probe costs, and aiokafka
    # is not asked to log a connection error for every attempt.
    try:
        socket.create_connection(("127.0.0.1", host_port), timeout=timeout).close()
    except OSError as exc:
        return Seen(False, f"Kafka at {address}: {exc}")
    _probing.on = True
    try:
        brokers = asyncio.run(_kafka_brokers(address, timeout))
    except Exception as exc:  # aiokafka's errors and timeouts: not ready yet
        return Seen(False, f"Kafka at {address}: no metadata ({type(exc).__name__}: {exc})")
    finally:
        _probing.on = False
    if not brokers:
        return Seen(False, f"Kafka at {address}: metadata lists no broker yet")
    return Seen(True, f"Kafka at {address}: metadata lists {len(brokers)} broker(s)")


def probe_once(check: Readiness, host_port: int, timeout: float = 2.0) -> Seen:
    if isinstance(check, KafkaReadiness):
        return probe_kafka(host_port, timeout)
    return probe_http(check, host_port, timeout)


class ReadinessProbe:
    """Probes one service again and again; a tolerated value (Kibana's "degraded") counts as
    ready once it has been seen without a break for `check.tolerate_after_s`."""

    def __init__(
        self,
        check: Readiness,
        host_port: int,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 2.0,
    ) -> None:
        self.check = check
        self.host_port = host_port
        self.clock = clock
        self.timeout = timeout
        self._tolerated_since: float | None = None

    def __call__(self) -> Seen:
        seen = probe_once(self.check, self.host_port, self.timeout)
        check = self.check
        if seen.ok or not isinstance(check, HttpReadiness) or seen.value not in check.tolerated:
            self._tolerated_since = None
            return seen
        now = self.clock()
        if self._tolerated_since is None:
            self._tolerated_since = now
        lasted = now - self._tolerated_since
        if lasted >= check.tolerate_after_s:
            return Seen(True, f"{seen.text}; accepted after {lasted:.0f} s", seen.value, seen.about)
        return seen
