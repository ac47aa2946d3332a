"""The real stack end to end: real images (pulled), real Kafka, Riemann, Elasticsearch, Kibana.

Marked `live` and skipped unless LOGTRAY_LIVE=1 on a machine that can pull from the public
registries (never in CI here: there is no registry). It checks what the stand-ins cannot:
Riemann's config in the real image (Kafka consumer, ES bulk output, the error-spike rule and the
alert line to the host) and the Kibana data view. Traffic stays on this machine: Kafka and ES
through their 127.0.0.1 ports, the alert from the Riemann container to a listener this test
binds on the Docker bridge gateway (what host.docker.internal resolves to).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import urllib.request
import uuid
from typing import Any

import docker
import pytest

from logtray.stack.config import StackConfig
from logtray.stack.kibana import ensure_data_view
from logtray.stack.manager import StackManager
from logtray.stack.specs import resolve
from logtray.tray.base.config import ListenerConfig

pytestmark = [
    pytest.mark.live,
    pytest.mark.docker,
    pytest.mark.skipif(
        os.environ.get("LOGTRAY_LIVE") != "1",
        reason="needs the real images from a registry: set LOGTRAY_LIVE=1 where they can be pulled",
    ),
]


def bridge_gateway(client: docker.DockerClient) -> str:
    config = client.networks.get("bridge").attrs["IPAM"]["Config"]
    return str(config[0]["Gateway"])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_real_stack_indexes_logs_and_alerts_the_host(docker_client: docker.DockerClient) -> None:
    from aiokafka import AIOKafkaProducer

    gateway = bridge_gateway(docker_client)
    listener = socket.socket()
    listener.bind((gateway, 0))
    listener.listen()
    listener.settimeout(120)
    alerts: list[dict[str, Any]] = []

    def accept() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                alerts.append(json.loads(conn.makefile("rb").readline()))
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    token = uuid.uuid4().hex
    name = f"lt-test-live-{uuid.uuid4().hex[:6]}"
    cfg = StackConfig(name=name, ready_timeout_s=600)
    specs = resolve(cfg, ListenerConfig(port=listener.getsockname()[1], token=token))
    manager = StackManager(docker_client, name, specs, pull=True, ready_timeout_s=600)
    try:
        manager.up()
        kibana = manager.published_url("kibana", "5601/tcp")
        es = manager.published_url("elasticsearch", "9200/tcp")
        assert kibana and es
        ensure_data_view(kibana)
        ensure_data_view(kibana)  # idempotent

        pathname = f"/app/live_{uuid.uuid4().hex[:6]}.py"

        async def produce() -> None:
            producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9094")
            await producer.start()
            try:
                for i in range(30):
                    event = {
                        "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "time": time.time(),
                        "levelname": "ERROR",
                        "pathname": pathname,
                        "lineno": 42,
                        "message": f"boom {i}",
                        "custom_field": "kept",
                    }
                    await producer.send_and_wait("program-logs", json.dumps(event).encode())
            finally:
                await producer.stop()

        asyncio.run(produce())
        deadline = time.monotonic() + 120
        while not alerts and time.monotonic() < deadline:
            time.sleep(0.5)
        assert alerts, "no alert reached the host listener"
        alert = alerts[0]
        assert alert["pathname"] == pathname and alert["token"] == token
        assert alert["count"] > 25 and alert["window_s"] == 10 and alert["threshold"] == 25

        query = f"{es}/program-logs-*/_search?q=record:kept&size=100"  # the record's text
        hits: list[Any] = []
        while time.monotonic() < deadline:
            try:
                hits = get_json(query)["hits"]["hits"]
            except OSError:
                hits = []
            if len(hits) >= 30:
                break
            time.sleep(1)
        assert len(hits) >= 30
        source = hits[0]["_source"]
        assert json.loads(source["record"])["custom_field"] == "kept"  # the record as sent
        assert source["logtray"]["group"] == pathname and source["logtray"]["level"] == "error"
        assert "@timestamp" in source
    finally:
        manager.down(volumes=True)
        listener.close()
