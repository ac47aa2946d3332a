"""stack/riemann/riemann.config: well-formed, and in step with the env the manager sets.

Riemann itself cannot run here (no registry); its stream semantics were checked against the
0.3.12 source (../shared/notes/riemann.md). This guards the file's shape and its contract.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest

from stack.specs import RIEMANN_CONFIG, builtin_specs
from tray.config import ListenerConfig

TEXT = RIEMANN_CONFIG.read_text(encoding="utf-8")
HARNESS = Path(__file__).with_name("riemann_harness.clj")


def forms_balanced(text: str) -> bool:
    """A small reader: strings, char literals, comments and regexes; delimiters must match."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ";":
            i = text.find("\n", i)
            if i < 0:
                break
        elif ch == "\\":
            i += 1  # a character literal such as \( or \n
        elif ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            stack.append(ch)
        elif ch in ")]}" and (not stack or stack.pop() != pairs[ch]):
            return False
        i += 1
    return not stack


def test_forms_are_balanced() -> None:
    assert forms_balanced(TEXT)
    assert not forms_balanced("(defn x [a] (inc a)")


def test_env_contract_matches_the_manager() -> None:
    read = set(re.findall(r'\(env "([A-Z_]+)"', TEXT))
    riemann = builtin_specs(ListenerConfig())["riemann"]
    given = set(riemann.env) - {"EXTRA_JAVA_OPTS"}  # the image's own start script reads it
    assert read == given


def test_the_rule_and_outputs_are_what_the_issue_asks() -> None:
    assert ":group.id kafka-group" in TEXT
    assert "(moving-time-window window-s" in TEXT
    assert "(> n threshold)" in TEXT
    assert "(throttle 1 throttle-s alert-out)" in TEXT
    assert "(by [:pathname]" in TEXT
    assert '(where (not (tagged "riemann"))' in TEXT
    # ES 8/9: bulk without mapping types, and the whole event kept.
    assert "_type" not in TEXT
    assert '"/_bulk"' in TEXT and "program-logs-" in TEXT
    # Outputs behind async queues, defined once at top level.
    assert TEXT.count("(async-queue! ") == 2
    for key in (":pathname", ":count", ":window_s", ":threshold", ":message", ":time", ":token"):
        assert key in TEXT


@pytest.mark.skipif(not shutil.which("clojure"), reason="clojure not installed")
def test_clojure_reads_every_form() -> None:
    path = json.dumps(str(RIEMANN_CONFIG))
    code = (
        f"(with-open [r (java.io.PushbackReader. (clojure.java.io/reader {path}))]"
        " (loop [n 0] (let [f (read {:eof ::eof} r)]"
        " (if (= f ::eof) (println n) (recur (inc n))))))"
    )
    out = subprocess.run(["clojure", "-e", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) > 10


def _have_clojure_libs() -> bool:
    jars = Path("/usr/share/java")
    return bool(shutil.which("clojure")) and all(
        (jars / f"{name}.jar").exists() for name in ("cheshire", "clj-http", "tools.logging")
    )


@pytest.mark.skipif(
    not _have_clojure_libs(),
    reason="needs clojure, libcheshire-clojure, libclj-http-clojure, libtools-logging-clojure",
)
def test_outputs_and_helpers_run(tmp_path: Path) -> None:
    """The config's own code, run by Clojure with Riemann stubbed: alert line over TCP with
    the token, an ES _bulk request without mapping types, every field kept."""
    alerts: list[bytes] = []
    bulks: list[tuple[str, str, bytes]] = []

    class Bulk(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            bulks.append((self.path, self.headers.get("Content-Type", ""), body))
            out = b'{"took":1,"errors":false,"items":[]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    es = socketserver.TCPServer(("127.0.0.1", 0), Bulk)
    threading.Thread(target=es.serve_forever, daemon=True).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(60)

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            alerts.append(conn.makefile("rb").readline())

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CLASSPATH": "/usr/share/java/*",
        "RIEMANN_CONFIG": str(RIEMANN_CONFIG),
        "ALERT_HOST": "127.0.0.1",
        "ALERT_PORT": str(listener.getsockname()[1]),
        "ALERT_TOKEN": "tok-123",
        "ES_URL": f"http://127.0.0.1:{es.server_address[1]}/",
        "THRESHOLD": "25",
        "WINDOW_S": "10",
    }
    try:
        out = subprocess.run(
            ["clojure", str(HARNESS)], capture_output=True, text=True, env=env, timeout=120
        )
        acceptor.join(timeout=5)
    finally:
        es.shutdown()
        es.server_close()
        listener.close()
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULTS "))
    res = json.loads(line[len("RESULTS ") :])

    assert res["error"] == [True, True, True, False, False]
    assert res["index"] == "program-logs-2025.11.24"
    alert = res["alert"]
    assert alert["pathname"] == "/app/a.py" and alert["count"] == 26
    assert alert["window_s"] == 10 and alert["threshold"] == 25
    assert alert["message"] == "boom" and alert["token"] == "tok-123"
    assert alert["time"].startswith("2025-11-24T16:00:00")
    bulk_lines = [json.loads(x) for x in res["bulk"].splitlines()]
    assert bulk_lines[0] == {"index": {"_index": "program-logs-2025.11.24"}}
    doc = bulk_lines[1]
    assert doc["extra"] == {"k": 1} and doc["pathname"] == "/app/a.py" and "nothing" not in doc
    assert doc["@timestamp"].startswith("2025-11-24T16:00:00")
    assert bulk_lines[3]["@timestamp"] == "2025-11-24T16:00:00.123Z"  # the producer's own
    assert res["safe"] == "survived" and res["down"] == "no exception"

    # What really went over the sockets.
    assert len(alerts) == 1
    sent = json.loads(alerts[0])
    assert sent["token"] == "tok-123" and sent["pathname"] == "/app/a.py"
    assert alerts[0].endswith(b"\n")
    assert len(bulks) == 1
    path, ctype, body = bulks[0]
    assert path == "/_bulk" and "ndjson" in ctype
    assert b"_type" not in body and body.endswith(b"\n")
