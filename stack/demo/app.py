"""The demo service: steady logs from two source files to Kafka, with error spikes on demand.

The baseline stays below the alert rule (more than 25 errors for one file within 10 s): by
default 1 error/s per file. A spike (`DEMO_SPIKE_RATE` errors/s from one file for
`DEMO_SPIKE_S` seconds) crosses it. Trigger one with `curl -X POST http://127.0.0.1:8089/spike`
(the HTTP control binds `DEMO_HTTP`, published on the host's loopback only), or start with
`DEMO_SPIKE_AT_START=1` / `logtray demo --spike`.

Configured by environment: KAFKA_BOOTSTRAP, KAFKA_TOPIC, SERVICE_NAME, DEMO_INFO_RATE,
DEMO_ERROR_RATE, DEMO_SPIKE_RATE, DEMO_SPIKE_S, DEMO_HTTP (host:port, empty = no endpoint).
"""

from __future__ import annotations

import http.server
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

try:
    from logtray.stack.kafka_handler import KafkaJSONHandler
except ImportError:  # in the demo image, kafka_handler.py sits beside app.py
    from kafka_handler import KafkaJSONHandler  # type: ignore[import-not-found,no-redef]

# The two "source files" the records come from (the original demo's two modules).
SOURCES = ("/app/orders.py", "/app/payments.py")


@dataclass(frozen=True)
class DemoSettings:
    bootstrap: str = "127.0.0.1:9094"
    topic: str = "program-logs"
    service: str = "demo"
    info_rate: float = 10.0  # per second per source
    error_rate: float = 1.0  # per second per source: 10 per window, below the threshold 25
    spike_rate: float = 50.0  # errors per second from one source while spiking
    spike_s: float = 3.0
    http: str = ""
    spike_at_start: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DemoSettings:
        d = cls()
        return cls(
            bootstrap=env.get("KAFKA_BOOTSTRAP", d.bootstrap),
            topic=env.get("KAFKA_TOPIC", d.topic),
            service=env.get("SERVICE_NAME", d.service),
            info_rate=float(env.get("DEMO_INFO_RATE", d.info_rate)),
            error_rate=float(env.get("DEMO_ERROR_RATE", d.error_rate)),
            spike_rate=float(env.get("DEMO_SPIKE_RATE", d.spike_rate)),
            spike_s=float(env.get("DEMO_SPIKE_S", d.spike_s)),
            http=env.get("DEMO_HTTP", d.http),
            spike_at_start=env.get("DEMO_SPIKE_AT_START", "") in ("1", "true", "yes"),
        )


class Generator:
    """Emits the records at the configured rates; `spike()` starts an error burst."""

    def __init__(self, settings: DemoSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.logger = logger
        self._spike_until = 0.0
        self._spike_source = SOURCES[1]
        self.stopped = threading.Event()

    def spike(self, source: str | None = None) -> None:
        self._spike_source = source or SOURCES[1]
        self._spike_until = time.monotonic() + self.settings.spike_s

    def _log(self, level: int, source: str, lineno: int, msg: str) -> None:
        # makeRecord with an explicit file: the records look as if they came from that module.
        record = self.logger.makeRecord(self.logger.name, level, source, lineno, msg, (), None)
        self.logger.handle(record)

    def run(self) -> None:
        s = self.settings
        tick = 0.02
        owed = {"info": 0.0, "error": 0.0, "spike": 0.0}
        n = 0
        while not self.stopped.is_set():
            owed["info"] += s.info_rate * tick
            owed["error"] += s.error_rate * tick
            if time.monotonic() < self._spike_until:
                owed["spike"] += s.spike_rate * tick
            while owed["info"] >= 1:
                owed["info"] -= 1
                for source in SOURCES:
                    n += 1
                    self._log(logging.INFO, source, 42, f"handled request {n}")
            while owed["error"] >= 1:
                owed["error"] -= 1
                for source in SOURCES:
                    self._log(logging.ERROR, source, 57, "upstream timed out")
            while owed["spike"] >= 1:
                owed["spike"] -= 1
                self._log(logging.ERROR, self._spike_source, 88, "database connection refused")
            self.stopped.wait(tick)


def serve_control(address: str, generator: Generator) -> http.server.ThreadingHTTPServer:
    """POST /spike[?source=/app/orders.py] starts a spike; GET / says what is there."""
    host, _, port = address.rpartition(":")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if not self.path.startswith("/spike"):
                self.send_error(404)
                return
            _, _, query = self.path.partition("?source=")
            generator.spike(query or None)
            self._reply(202, b"spike started\n")

        def do_GET(self) -> None:
            self._reply(200, b"demo: POST /spike to start an error spike\n")

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(settings: DemoSettings, stop: threading.Event | None = None) -> int:
    # The handler says once that Kafka is down; aiokafka would say it at every retry.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    handler = KafkaJSONHandler(settings.bootstrap, settings.topic, service=settings.service)
    logger = logging.getLogger("demo")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the records go to Kafka, not to the terminal
    logger.addHandler(handler)
    generator = Generator(settings, logger)
    if stop is not None:
        generator.stopped = stop
    server = serve_control(settings.http, generator) if settings.http else None
    if settings.spike_at_start:
        generator.spike()
    where = f"; POST http://{settings.http}/spike for a spike" if settings.http else ""
    print(f"demo: logging to {settings.topic} on {settings.bootstrap}{where}", flush=True)
    try:
        generator.run()
    finally:
        if server:
            server.shutdown()
        logger.removeHandler(handler)
        handler.close()
    return 0


def main() -> int:
    settings = DemoSettings.from_env(os.environ)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return run(settings, stop)


if __name__ == "__main__":
    sys.exit(main())
