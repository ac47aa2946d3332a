"""Connecting (contexts, a missing daemon), readiness probes, diagnoses, the Kibana data view.

HTTP tests use a real server on 127.0.0.1, port 0.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from logtray.stack import engine
from logtray.stack.health import diagnose, riemann_consumer_dead
from logtray.stack.kibana import (
    DEFAULT_COLUMNS,
    NORMALIZED_FIELDS,
    data_view_body,
    ensure_data_view,
    user_chose_columns,
)
from logtray.stack.probes import ReadinessProbe, probe_http, probe_kafka
from logtray.stack.specs import HttpReadiness
from logtray.tray.base.errors import LogtrayError
from tests.stack.standins import tansu_binary

# -- docker contexts -------------------------------------------------------------------------


def write_context(root: Path, name: str, host: str) -> None:
    meta = root / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )


def test_active_context_is_honoured(tmp_path: Path) -> None:
    write_context(tmp_path, "orbstack", "unix:///Users/me/.orbstack/run/docker.sock")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "orbstack"}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert engine.docker_host(env) == "unix:///Users/me/.orbstack/run/docker.sock"
    # DOCKER_CONTEXT wins over the config file; DOCKER_HOST wins over both.
    write_context(tmp_path, "colima", "unix:///Users/me/.colima/default/docker.sock")
    colima = engine.docker_host({**env, "DOCKER_CONTEXT": "colima"})
    assert colima.endswith("colima/default/docker.sock")
    assert (
        engine.docker_host({**env, "DOCKER_HOST": "tcp://127.0.0.1:2375"}) == "tcp://127.0.0.1:2375"
    )


def test_default_context_and_broken_files(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert engine.docker_host(env) == engine.DEFAULT_SOCKET
    (tmp_path / "config.json").write_text("{not json")
    assert engine.docker_host(env) == engine.DEFAULT_SOCKET
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    assert engine.docker_host(env) == engine.DEFAULT_SOCKET


def test_daemon_absent_says_not_running(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(engine.DockerUnavailable) as info:
        engine.connect({"DOCKER_HOST": host})
    assert "not running" in info.value.message or "not installed" in info.value.message
    assert host in info.value.message or "docker" in info.value.message.lower()
    assert info.value.fix


def test_connection_refused_says_not_running(tmp_path: Path) -> None:
    # A socket file nobody listens on: what a stopped Docker Desktop leaves behind.
    import socket

    path = tmp_path / "docker.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    with pytest.raises(engine.DockerUnavailable, match="Docker is not running"):
        engine.connect({"DOCKER_HOST": f"unix://{path}"})


def test_permission_denied_gets_the_docker_group_hint() -> None:
    try:
        try:
            raise PermissionError(13, "Permission denied")
        except PermissionError as inner:
            raise requests.exceptions.ConnectionError("Connection aborted") from inner
    except requests.exceptions.ConnectionError as exc:
        err = engine.explain_connect_error("unix:///var/run/docker.sock", exc)
    assert "permission denied" in err.message
    assert err.fix is not None and "docker group" in err.fix


def test_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    err = engine.explain_connect_error(f"unix://{tmp_path}/none.sock", ConnectionError("x"))
    assert "not installed" in err.message


# -- diagnoses ---------------------------------------------------------------------------------


def test_diagnose_vm_max_map_count() -> None:
    lines = [
        "starting",
        "ERROR: [1] bootstrap checks failed",
        "max virtual memory areas "
        "vm.max_map_count [65530] is too low, increase to at least [262144]",
    ]
    hint = diagnose(lines)
    assert hint is not None and "sysctl -w vm.max_map_count=262144" in hint
    assert diagnose(["all good"]) is None
    assert "memory" in (diagnose(["java.lang.OutOfMemoryError: Java heap space"]) or "")


def test_riemann_dead_consumer() -> None:
    assert riemann_consumer_dead(
        ["INFO Starting kafka consumer", "ERROR riemann.kafka - Interrupted consumption"]
    )
    # A restart after the failure brings a fresh consumer.
    assert not riemann_consumer_dead(
        [
            "ERROR riemann.kafka - Interrupted consumption",
            "INFO riemann.core - Hyperspace core online",
        ]
    )
    assert not riemann_consumer_dead([])


# -- HTTP: readiness probe and Kibana -------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}
    posts: ClassVar[list[tuple[str, dict[str, str], Any]]] = []

    def do_GET(self) -> None:
        code, body = self.routes.get(self.path, (404, b"{}"))
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        type(self).posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        code = 200 if self.headers.get("kbn-xsrf") else 400
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    Handler.routes = {}
    Handler.posts = []
    srv = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_probe_http_status_and_json(server: int) -> None:
    check = HttpReadiness("5601/tcp", "/api/status", ("status", "overall", "level"), "available")
    Handler.routes["/api/status"] = (503, b"{}")
    seen = probe_http(check, server)
    assert not seen.ok and "503" in seen.text
    Handler.routes["/api/status"] = (200, b'{"status":{"overall":{"level":"degraded"}}}')
    seen = probe_http(check, server)
    assert not seen.ok and "degraded" in seen.text and seen.value == "degraded"
    Handler.routes["/api/status"] = (200, b'{"status":{"overall":{"level":"available"}}}')
    assert probe_http(check, server).ok
    plain = HttpReadiness("9200/tcp", "/_cluster/health?wait_for_status=yellow&timeout=1s")
    Handler.routes["/_cluster/health?wait_for_status=yellow&timeout=1s"] = (408, b"{}")
    assert not probe_http(plain, server).ok


def kibana_status(level: str, plugin_level: str = "available") -> bytes:
    # As Kibana 8 answers: the overall level, its summary, and every plugin's own level.
    return json.dumps(
        {
            "status": {
                "overall": {"level": level, "summary": f"{level}: 1 plugin"},
                "plugins": {"alerting": {"level": plugin_level, "summary": "ok"}},
            }
        }
    ).encode()


def test_kibana_degraded_is_ready_only_after_the_bound(server: int) -> None:
    from logtray.stack.specs import KIBANA_DEGRADED_OK_S, builtin_specs
    from logtray.tray.base.config import ListenerConfig

    check = builtin_specs(ListenerConfig())["kibana"].readiness
    assert isinstance(check, HttpReadiness) and check.tolerate_after_s == KIBANA_DEGRADED_OK_S
    now = [100.0]
    probe = ReadinessProbe(check, server, clock=lambda: now[0])
    # A plugin's "available" does not make a degraded Kibana ready (the old grep's mistake).
    Handler.routes["/api/status"] = (200, kibana_status("degraded", plugin_level="available"))
    assert not probe().ok
    now[0] += KIBANA_DEGRADED_OK_S - 1
    seen = probe()
    assert not seen.ok and "degraded: 1 plugin" in seen.text
    # A break (503 while restarting) starts the bound again.
    Handler.routes["/api/status"] = (503, b"{}")
    assert not probe().ok
    Handler.routes["/api/status"] = (200, kibana_status("degraded"))
    now[0] += 5
    assert not probe().ok
    now[0] += KIBANA_DEGRADED_OK_S
    seen = probe()
    assert seen.ok and "accepted after" in seen.text and seen.value == "degraded"
    Handler.routes["/api/status"] = (200, kibana_status("available"))
    assert probe().ok
    # Neither "unavailable" nor "critical" is ever accepted, however long it lasts.
    Handler.routes["/api/status"] = (200, kibana_status("critical"))
    assert not probe().ok
    now[0] += 10 * KIBANA_DEGRADED_OK_S
    assert not probe().ok


def test_probe_kafka_over_the_protocol(tmp_path: Path) -> None:
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen = probe_kafka(port, timeout=1)
    assert not seen.ok and str(port) in seen.text
    # Something that accepts connections but does not speak Kafka is not ready.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        seen = probe_kafka(mute.getsockname()[1], timeout=0.5)
        assert not seen.ok and "no metadata" in seen.text
    with (tmp_path / "tansu.log").open("wb") as log:
        broker = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (seen := probe_kafka(port)).ok and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen.ok, f"{seen.text}; broker log: {(tmp_path / 'tansu.log').read_text()}"
        assert "1 broker(s)" in seen.text
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def test_probe_http_nobody_listening() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen = probe_http(HttpReadiness("1/tcp", "/"), port, timeout=1)
    assert not seen.ok and str(port) in seen.text


def test_ensure_data_view_posts_idempotent_request(server: int) -> None:
    Handler.routes["/api/kibana/settings"] = (200, b'{"settings": {}}')
    ensure_data_view(f"http://127.0.0.1:{server}/")
    ensure_data_view(f"http://127.0.0.1:{server}")
    assert [p for p, _, _ in Handler.posts] == [
        "/api/data_views/data_view",
        "/api/kibana/settings",
    ] * 2
    _, headers, body = Handler.posts[0]
    assert headers["kbn-xsrf"] == "true"
    assert body == data_view_body() and body["override"] is True
    assert body["data_view"]["title"] == "program-logs-*"
    assert body["data_view"]["timeFieldName"] == "@timestamp"


def test_discover_lists_and_shows_the_normalized_fields_for_every_shape(server: int) -> None:
    """Every record is indexed with its normalized reading under `logtray` (riemann.config's
    es-fields), whichever logger wrote it: the data view labels those fields and ranks them
    first, and Discover opens with level, service, group and message as its columns."""
    Handler.routes["/api/kibana/settings"] = (200, b'{"settings": {"buildNum": {"userValue": 1}}}')
    ensure_data_view(f"http://127.0.0.1:{server}")
    attrs = Handler.posts[0][2]["data_view"]["fieldAttrs"]
    assert {name: a["customLabel"] for name, a in attrs.items()} == dict(NORMALIZED_FIELDS)
    ranked = sorted(attrs, key=lambda name: -attrs[name]["count"])
    assert ranked[:4] == ["logtray.level", "logtray.service", "logtray.group", "logtray.message"]
    # The names are those riemann.config sends to Elasticsearch (its es-fields).
    config = (Path(__file__).parents[2] / "stack" / "riemann" / "riemann.config").read_text()
    es_fields = config[config.index("(def es-fields") :].split("]", 1)[0]
    for name in attrs:
        assert f":{name.removeprefix('logtray.')}" in es_fields, name
    path, headers, body = Handler.posts[1]
    assert (path, headers["kbn-xsrf"]) == ("/api/kibana/settings", "true")
    assert body == {"changes": {"defaultColumns": list(DEFAULT_COLUMNS)}}
    assert body["changes"]["defaultColumns"] == ranked[:4]


def test_columns_the_user_chose_stay(server: int) -> None:
    Handler.routes["/api/kibana/settings"] = (
        200,
        b'{"settings": {"defaultColumns": {"userValue": ["host", "message"]}}}',
    )
    ensure_data_view(f"http://127.0.0.1:{server}")
    assert [p for p, _, _ in Handler.posts] == ["/api/data_views/data_view"]
    assert not user_chose_columns({"settings": {"defaultColumns": {"userValue": None}}})
    assert not user_chose_columns(["not", "an", "object"])
    assert not user_chose_columns(
        {"settings": {"defaultColumns": {"userValue": list(DEFAULT_COLUMNS)}}}
    )


def test_ensure_data_view_unreachable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LogtrayError, match="cannot reach Kibana"):
        ensure_data_view(f"http://127.0.0.1:{port}", timeout=2)
