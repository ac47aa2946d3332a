"""stack/riemann/riemann.config: well-formed, in step with the env the manager sets, and its rule
and outputs exercised.

Riemann itself cannot run here (no registry). tests/stack/riemann_harness.clj loads the config
with the few Riemann 0.3.12 functions it uses mirrored from Riemann's own source in
tests/stack/riemann_stubs.clj (where*, batch, call-rescue, async-queue!, every!, the Kafka
consumer's deserializer option, JSON decoding and consume loop, event making, and kinsky's
producer and consumer over an in-memory topic) and the clock under control, feeds it Kafka
message values, and
reports what came out: alerts, indexed events, the rule's state, and what went over real
sockets to a listener and a _bulk endpoint."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import random
import re
import shutil
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from logtray.pipeline.kinds import KnownKind, kind_id
from logtray.stack.specs import RIEMANN_CONFIG, builtin_specs
from logtray.tray.alerts.alert import parse_message
from logtray.tray.alerts.dedupe import alert_id
from logtray.tray.alerts.evidence import parse_evidence
from logtray.tray.alerts.kinds_topic import COMMAND, encode_kind, kind_key, latest
from logtray.tray.base.config import ListenerConfig
from tests.conftest import need
from tests.kind_cases import RECORDS as KIND_RECORDS
from tests.kind_cases import TABLE as KIND_TABLE
from tests.kind_cases import for_harness as kinds_for_harness
from tests.kind_cases import kind_named
from tests.rule_cases import CASES, Case, for_harness, relative
from tests.rule_cases import CONFIG as RULE_CONFIG
from tests.stack.record_values import parity_values, shipped_values
from tests.test_alert_where import engine_alert

TEXT = RIEMANN_CONFIG.read_text(encoding="utf-8")
HARNESS = Path(__file__).with_name("riemann_harness.clj")
SHAPES = Path(__file__).parents[1] / "shapes"
EXPECTED_SHAPES: dict[str, dict[str, Any]] = json.loads(
    (SHAPES / "expected.json").read_text(encoding="utf-8")
)["loggers"]


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


_PINO_LINE = json.dumps(
    {"level": 50, "time": 1796639274737, "name": "payments", "msg": "payment 4711 failed"}
)
PARITY = parity_values(3000, seed=7) + shipped_values(300, seed=7)  # both must agree


def kind_values(n: int, seed: int) -> list[str]:
    """Seeded error records built from the parts a kind is read from, each part drawn from
    what loggers write and what strangers could: Python tracebacks, V8/Java "at" lines,
    frames of libraries and runtimes, Windows paths, long line numbers, blanks, odd names."""
    rnd = random.Random(seed)
    files = [
        "/app/pay.py",
        "/srv/app/.venv/lib/python3.12/site-packages/x/y.py",
        "C:\\app\\w.py",
        "/usr/lib/python3.12/socket.py",
        "<frozen runpy>",
        "src/handler.js",
        "",
        " ",
        "node:internal/timers",
        "/app/node_modules/pg/lib/client.js",
        "internal/x.js",
        "Pay.java",
        "/a/b/",
        "\u00e9t\u00e9.py",
        "x:y.py",
    ]
    functions = [
        "charge",
        "java.base/java.net.Socket.connect",
        "com.acme.Pay.run",
        "kotlin.x",
        "",
        "Object.<anonymous>",
        "scala.Function1.apply",
        "sun.nio.ch.Net.poll",
    ]
    lines = ["12", "0", "123456789", "99999999", "7:9", "x"]

    def frame() -> str:
        f, fn, ln = rnd.choice(files), rnd.choice(functions), rnd.choice(lines)
        return rnd.choice(
            [
                f'  File "{f}", line {ln}, in {fn}',
                f'File "{f}", line {ln}',
                f"    at {fn} ({f}:{ln})",
                f"at {fn}({f}:{ln})",
                f"at {f}:{ln}",
                f"\tat {fn}(Native Method)",
                f"at {fn}(index 0)",
                "goroutine 1 [running]:",
                "   ",
            ]
        )

    out = []
    for _ in range(n):
        record: dict[str, Any] = {"level": rnd.choice(["error", "ERROR", "fatal", "warn", 50])}
        if rnd.random() < 0.8:
            record["message"] = rnd.choice(
                [
                    "payment 4711 failed",
                    "  ",
                    "",
                    "user 'bob' not found",
                    "id 0xdeadbeef",
                    "x" * 1200,
                ]
            )
        if rnd.random() < 0.5:
            record["pathname"] = rnd.choice(files)
            record["lineno"] = rnd.choice([12, 0, None, "31"])
        for key, values in (
            ("service", ["payments", "", "billing"]),
            ("logger", ["app.pay", ""]),
        ):
            if rnd.random() < 0.5:
                record[key] = rnd.choice(values)
        error: dict[str, Any] = {}
        if rnd.random() < 0.6:
            error["type"] = rnd.choice(["ValueError", " ", "", "pay.Timeout", "E\n"])
        if rnd.random() < 0.6:
            error["message"] = rnd.choice(["bad 12", "   ", "", "timeout after 3.5 s"])
        if rnd.random() < 0.8:
            head = rnd.choice(["Traceback (most recent call last):", "Error: boom", ""])
            error["stack_trace"] = "\n".join([head] + [frame() for _ in range(rnd.randint(0, 6))])
        if error:
            record["error"] = error
        out.append(json.dumps(record))
    return out


KIND_VALUES = kind_values(2000, seed=11)  # each record's kind: both profiles must agree


def random_kind_cases(n: int, seed: int) -> list[dict[str, Any]]:
    """Seeded cases in the table's terms (tests/kind_cases.json's "about"): kinds kept in any
    state, steps at any time with the table's records in any order, the user's resolve, mute and
    reopen, small bounds (learning, bursts, forgetting) — for both books to run."""
    rnd = random.Random(seed)
    names = sorted(KIND_RECORDS)
    with_kind = [name for name in names if kind_named(name) is not None]
    cases = []
    for i in range(n):
        small = rnd.random() < 0.5  # forgetting on: no state changes (a forgotten kind has none)
        config = {
            "learn_s": rnd.choice([0, 5, 30]),
            "burst_max": rnd.choice([0, 1, 2, 5]),
            "burst_s": rnd.choice([1, 10, 60]),
            "max_kinds": rnd.choice([1, 2, 4, 8]) if small else 10000,
        }
        known = [
            {
                "record": name,
                "state": rnd.choice(["open", "resolved", "muted"]),
                "seen": -rnd.randint(1, 500),
            }
            for name in rnd.sample(with_kind, rnd.randint(0, 6))
        ]
        steps: list[dict[str, Any]] = []
        at = 0.0
        for _ in range(rnd.randint(1, 8)):
            step: dict[str, Any] = {"at": at, "records": rnd.choices(names, k=rnd.randint(0, 8))}
            if not small and known:
                for verb in ("resolve", "mute", "reopen"):
                    if rnd.random() < 0.3:
                        step[verb] = [rnd.choice(known)["record"]]
            steps.append(step)
            at = round(at + rnd.choice([0, 0.5, 1, 4.9, 5, 10, 29.9, 30, 61]), 1)
        cases.append({"name": f"random {i}", "config": config, "known": known, "steps": steps})
    return cases


RANDOM_KIND_CASES = random_kind_cases(300, seed=5)

# Records of the loggers without a fixture yet (Go, Rust, .NET), shipped lines and edge cases,
# written from the shared notes' field table, each with what tests/shapes/README.md's rules
# read from it (only the fields given are compared; time_raw: where a non-numeric time went).
READINGS: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "go slog",
        {
            "time": "2026-12-07T09:07:47.123456789Z",
            "level": "ERROR",
            "source": {
                "function": "main.processPayment",
                "file": "/srv/app/payments.go",
                "line": 29,
            },
            "msg": "payment 4711 failed",
            "err": "gateway did not answer payment 4711",
        },
        {
            "level": "error",
            "file": "/srv/app/payments.go",
            "line": 29,
            "group": "/srv/app/payments.go",
            "time": _at("2026-12-07T09:07:47.123+00:00"),
            "error_message": "gateway did not answer payment 4711",
            "time_raw": "2026-12-07T09:07:47.123456789Z",
        },
    ),
    (
        "go zerolog",
        {
            "level": "error",
            "error": "gateway timeout",
            "caller": "/srv/app/payments.go:29",
            "stack": [{"func": "processPayment", "line": "21", "source": "payments.go"}],
            "time": "2026-12-07T09:07:47Z",
            "message": "payment 4711 failed",
        },
        {
            "level": "error",
            "message": "payment 4711 failed",
            "file": "/srv/app/payments.go",
            "line": 29,
            "time": _at("2026-12-07T09:07:47+00:00"),
            "error_message": "gateway timeout",
        },
    ),
    (
        "go zap",
        {
            "level": "error",
            "ts": 1796639265.5123,
            "caller": "go-zap/payments.go:27",
            "msg": "payment 4711 failed",
            "error": "gateway timeout",
            "stacktrace": "main.processPayment\n\t/srv/app/payments.go:27",
        },
        {
            "level": "error",
            "file": "go-zap/payments.go",
            "line": 27,
            "group": "go-zap/payments.go",
            "time": 1796639265.5123,
            "error_type": None,
            "error_message": "gateway timeout",
        },
    ),
    (
        "rust tracing",
        {
            "timestamp": "2026-12-07T09:07:47.123456Z",
            "level": "ERROR",
            "fields": {"message": "payment 4711 failed", "error": "gateway timeout"},
            "target": "payments",
            "filename": "src/main.rs",
            "line_number": 42,
        },
        {
            "level": "error",
            "message": "payment 4711 failed",
            "file": "src/main.rs",
            "line": 42,
            "logger": "payments",
            "time": _at("2026-12-07T09:07:47.123+00:00"),
            "error_message": "gateway timeout",
        },
    ),
    (
        "serilog compact",
        {
            "@t": "2026-12-07T09:07:47.1234567Z",
            "@mt": "payment {Id} failed",
            "@l": "Error",
            "Id": 4711,
            "SourceContext": "Payments",
            "@x": "System.TimeoutException: gateway timeout\n   at Payments.Process()",
        },
        {
            "level": "error",
            "message": "payment {Id} failed",
            "file": None,
            "group": "Payments \u00b7 payment {Id} failed",
            "time": _at("2026-12-07T09:07:47.123+00:00"),
            "error_type": "System.TimeoutException",
            "error_message": "gateway timeout",
        },
    ),
    ("serilog information", {"@t": "2026-12-07T09:07:47Z", "@mt": "started"}, {"level": "info"}),
    (
        "logback level_value only",
        {"level_value": 40000, "message": "retry 3 of 5", "logger_name": "pay"},
        {"level": "error", "group": "pay \u00b7 retry <n> of <n>"},
    ),
    (
        "log4j2 instant",
        {
            "instant": {"epochSecond": 1796639265, "nanoOfSecond": 123456789},
            "level": "ERROR",
            "message": "m",
            "thrown": {"name": "java.io.IOException", "message": "broken pipe"},
        },
        {
            "time": 1796639265.123456789,
            "error_type": "java.io.IOException",
            "error_message": "broken pipe",
        },
    ),
    (
        "docker json-file line",
        {"log": _PINO_LINE + "\n", "stream": "stdout", "time": "2026-12-07T09:07:47.5Z"},
        {
            "level": "error",
            "group": "payments \u00b7 payment <n> failed",
            "time": 1796639274.737,
            "time_raw": "2026-12-07T09:07:47.5Z",
        },
    ),
    (
        "fluent bit message, read once",
        {
            "message": json.dumps(
                {
                    "level": "error",
                    "pathname": "/app/a.py",
                    "lineno": 3,
                    "message": json.dumps({"level": "info"}),
                }
            )
        },
        {
            "level": "error",
            "file": "/app/a.py",
            "line": 3,
            "message": json.dumps({"level": "info"}),
        },
    ),
    (
        "a line with a level of its own is not unwrapped",
        {"level": "info", "log": json.dumps({"level": "error"})},
        {"level": "info"},
    ),
    (
        "logrus file",
        {"level": "error", "file": "/app/x.go:12", "msg": "m"},
        {"file": "/app/x.go", "line": 12},
    ),
    (
        "a file without a line",
        {"level": "error", "file": "weird", "msg": "m"},
        {"file": "weird", "line": None},
    ),
    (
        "a line as a string",
        {"level": "error", "src": {"file": "a.js", "line": "21"}},
        {"file": "a.js", "line": 21},
    ),
    ("no group without a call site or message", {"level": "error"}, {"group": None}),
    (
        "times that are not times",
        {
            "level": "error",
            "msg": "m",
            "time": True,
            "timestamp": "yesterday",
            "ts": 10**30 * 10**300,
        },
        {"time": None, "time_raw": True},
    ),
    ("a time beyond 64 bits", {"level": "error", "time": 10**20}, {"time_raw": 10**20}),
]


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
    code = "\n".join(line.split(";")[0] for line in TEXT.splitlines())  # comments out
    assert ":group.id kafka-group" in code
    assert ':auto.offset.reset "earliest"' in code
    # The consumer decodes with the config's own deserializer (Riemann's stops on a string time).
    assert ":value.deserializer record-deserializer" in code
    # Our own window and gate: 0.3.12's throttle counts in fixed windows, and its
    # moving-time-window can be held in the future by one event.
    assert "(throttle " not in code and "(moving-time-window " not in code
    assert "(> (:n added) threshold)" in code
    assert "(>= (- now alerted) throttle-s)" in code
    assert "(where* rule-event?" in code and "(spike-rule rule-state alerts-out)" in code
    assert "(has-fields? e)" in code and "(riemann-internal? e)" in code
    # ES 8/9: bulk without mapping types, and the whole event kept.
    assert ":_type" not in code and '"_type"' not in code
    assert '"/_bulk"' in code and "program-logs-" in code
    # Outputs behind async queues, defined once at top level (the alerts topic's only when set).
    assert code.count("(async-queue! ") == 4  # ES, the listener, the alerts and kinds topics
    assert '(env "ALERTS_TOPIC" "logtray-alerts")' in code
    assert "(kafka alerts-kafka-config)" in code
    for key in (":pathname", ":count", ":window_s", ":threshold", ":message", ":time", ":token"):
        assert key in code
    assert ":evidence" in code


def test_clojure_reads_every_form() -> None:
    need(bool(shutil.which("clojure")), "clojure is not installed")
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


T0 = 1764000000.0  # the harness's clock at the start of each scenario: 2025-11-24T16:00:00Z


def _kept(name: str, state: str, seen: float) -> KnownKind:
    kind = kind_named(name)
    assert kind is not None, name
    return KnownKind(kind, seen, seen, 3, "as the engine kept it", state)  # type: ignore[arg-type]


def _text(message: tuple[bytes, bytes | None]) -> list[str | None]:
    key, value = message
    return [key.decode(), None if value is None else value.decode()]


# The kinds topic as logtray's engine left it (tray/alerts/kinds_topic.py writes it): node-pino's
# kind resolved, python-logtray's open, a forgotten kind (its tombstone), and strangers' messages.
KEPT_PINO = _kept("node-pino", "resolved", T0 - 100)
KEPT_LOGTRAY = _kept("python-logtray", "open", T0 - 50)
_FORGOTTEN = _kept("billing-a", "open", T0 - 70)
KINDS_TOPIC_MESSAGES = [
    encode_kind(_FORGOTTEN),
    encode_kind(KEPT_PINO),
    (b"payments\nffffffffffff", b"not json"),
    (b"someone\n0123456789ab", encode_kind(KEPT_LOGTRAY)[1]),  # a key not its kind's
    encode_kind(KEPT_LOGTRAY),
    (kind_key(*_FORGOTTEN.key), None),
]
KINDS_TOPIC_INPUT = {
    "messages": [_text(m) for m in KINDS_TOPIC_MESSAGES],
    # `logtray kinds resolve` while Riemann runs; and a write of the book's own read back (not
    # the command's: not taken over).
    "resolve": _text(encode_kind(_kept("node-pino", "resolved", T0 + 5), COMMAND)),
    "ignored": _text(encode_kind(_kept("python-logtray", "muted", T0 + 5))),
    "records": {name: json.dumps(KIND_RECORDS[name]) for name in KIND_RECORDS},
}


@dataclass
class HarnessRun:
    results: dict[str, Any]
    alert_lines: list[bytes]  # what reached the alert listener, one line per connection
    bulks: list[tuple[str, str, bytes]]  # (path, content type, body) of each _bulk request
    # Pipeline messages (writes Elasticsearch refused) the listener got, and the _bulk
    # requests the read-only stand-in answered.
    pipeline_lines: list[bytes]
    blocked_bulks: int


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessRun]:
    """One JVM for every scenario (starting Clojure with clj-http takes seconds)."""
    need(
        _have_clojure_libs(),
        "needs clojure, libcheshire-clojure, libclj-http-clojure, libtools-logging-clojure",
    )
    alert_lines: list[bytes] = []
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
    blocked_bulks: list[int] = []

    class ReadOnly(http.server.BaseHTTPRequestHandler):
        """Elasticsearch past its flood-stage disk watermark: every index write refused."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            actions = [json.loads(x) for x in body.splitlines()[::2]]
            blocked_bulks.append(len(actions))
            reason = (
                "index [{}] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage "
                "watermark, index has read-only-allow-delete block];"
            )
            items = [
                {
                    "index": {
                        "_index": a["index"]["_index"],
                        "status": 429,
                        "error": {
                            "type": "cluster_block_exception",
                            "reason": reason.format(a["index"]["_index"]),
                        },
                    }
                }
                for a in actions
            ]
            out = json.dumps({"took": 1, "errors": True, "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    read_only = socketserver.TCPServer(("127.0.0.1", 0), ReadOnly)
    threading.Thread(target=read_only.serve_forever, daemon=True).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    done = threading.Event()

    def accept() -> None:
        # Reads every connection the run made (one line each), then stops once the run is over
        # and nothing is left waiting: a bounded poll, as closing a socket does not wake accept().
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if done.is_set():
                    return
                continue
            with conn:
                conn.settimeout(30)
                alert_lines.append(conn.makefile("rb").readline())

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    cases = tmp_path_factory.mktemp("rule-cases") / "cases.json"
    cases.write_text(for_harness(), encoding="utf-8")
    kind_cases = cases.with_name("kind-cases.json")
    kinds_payload = json.loads(kinds_for_harness())
    kinds_payload["cases"] += RANDOM_KIND_CASES
    kind_cases.write_text(json.dumps(kinds_payload), encoding="utf-8")
    kinds_topic = cases.with_name("kinds-topic.json")
    kinds_topic.write_text(json.dumps(KINDS_TOPIC_INPUT), encoding="utf-8")
    readings = cases.with_name("readings.json")
    values = [v if isinstance(v, str) else json.dumps(v) for _, v, _ in READINGS] + PARITY
    values += KIND_VALUES
    readings.write_text(json.dumps(values), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CLASSPATH": "/usr/share/java/*",
        "RIEMANN_CONFIG": str(RIEMANN_CONFIG),
        "ALERT_HOST": "127.0.0.1",
        "ALERT_PORT": str(listener.getsockname()[1]),
        "ALERT_TOKEN": "tok-123",
        "ES_URL": f"http://127.0.0.1:{es.server_address[1]}/",
        "ES_BLOCKED_URL": f"http://127.0.0.1:{read_only.server_address[1]}",
        "THRESHOLD": str(RULE_CONFIG["threshold"]),
        "WINDOW_S": str(RULE_CONFIG["window_s"]),
        "THROTTLE_S": str(RULE_CONFIG["throttle_s"]),
        "RULE_CASES": str(cases),
        "KIND_CASES": str(kind_cases),
        "KINDS_TOPIC_MESSAGES": str(kinds_topic),
        "SHAPES_DIR": str(SHAPES),
        "READINGS": str(readings),
        # ALERTS_TOPIC is not set: the config's default publishes every alert (the stack
        # passes [stack] alerts_topic, by default the same name).
    }
    try:
        out = subprocess.run(
            ["clojure", str(HARNESS)], capture_output=True, text=True, env=env, timeout=600
        )
    finally:
        es.shutdown()
        es.server_close()
        read_only.shutdown()
        read_only.server_close()
        done.set()
        acceptor.join(timeout=60)
        listener.close()
    assert not acceptor.is_alive(), "the alert listener did not finish reading"
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULTS "))
    pipeline = [ln for ln in alert_lines if b'"kind":"pipeline"' in ln]
    alerts = [ln for ln in alert_lines if ln not in pipeline]
    results = json.loads(line[len("RESULTS ") :])
    yield HarnessRun(results, alerts, bulks, pipeline, len(blocked_bulks))


def test_outputs_and_helpers_run(harness: HarnessRun) -> None:
    """The config's own code with Riemann stubbed: alert line over TCP with the token, an ES
    _bulk request without mapping types, every field kept."""
    res = harness.results
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
    # The normalized reading, and the record as it was sent (one string: it cannot conflict).
    assert doc["logtray"] == {
        "level": "error",
        "message": "x",
        "template": "x",
        "file": "/app/a.py",
        "line": 3,
        "group": "/app/a.py",
        # An error record's kind (its id: tests/kind_cases.md), what a kind's link filters on.
        "kind": kind_id("", "x", "a.py"),
    }
    record = json.loads(doc["record"])
    assert record["extra"] == {"k": 1} and record["level"] == 50 and record["nothing"] is None
    assert set(doc) == {"@timestamp", "logtray", "record"}
    assert doc["@timestamp"] == "2025-11-24T16:00:00Z"
    assert bulk_lines[3]["@timestamp"] == "2025-11-24T16:00:00.123Z"  # the record's own
    assert res["safe"] == "survived" and res["down"] == "no exception"

    # What really went over the sockets: the direct send, the pipeline's evidence alert, the
    # heartbeat's answer, then the three of the alerts topic's outage, then the two waiting for
    # their topic copy's ack.
    assert len(harness.alert_lines) == 8
    sent = json.loads(harness.alert_lines[0])
    assert sent["token"] == "tok-123" and sent["pathname"] == "/app/a.py"
    assert all(line.endswith(b"\n") for line in harness.alert_lines)
    assert len(harness.bulks) == 1
    path, ctype, body = harness.bulks[0]
    assert path == "/_bulk" and "ndjson" in ctype
    assert b"_type" not in body and body.endswith(b"\n")


def test_a_new_consumer_group_starts_at_the_earliest_offset(harness: HarnessRun) -> None:
    opts = harness.results["consumer"]
    assert opts["consumer.config"] == {
        "bootstrap.servers": "kafka:9092",
        "group.id": "logtray-riemann",
        "auto.offset.reset": "earliest",
    }
    assert opts["topics"] == ["program-logs"]
    assert harness.results["own-deserializer"] is True
    assert harness.results["reload-keeps-consumer"] is True  # a reload does not restart it


def test_event_time_parsing_and_far_from_now_bounds(harness: HarnessRun) -> None:
    res = harness.results
    # @timestamp: Z, an offset, none (UTC); not a time; beyond a long of milliseconds.
    assert res["times"] == [T0 + 0.25, T0 + 0.25, T0 + 0.25, None, None]
    assert all(fast == general for fast, general in res["fast"])
    assert [fast for fast, _ in res["fast"]][:2] == [T0, T0 + 0.1]
    assert res["not-times"] == [None] * 5
    bounded = res["bounded"]
    assert bounded["ms"] == T0  # epoch milliseconds: read as such
    assert bounded["future"] == T0  # a day ahead: the arrival time
    assert bounded["ahead-4s"] == T0 + 4  # within 5 s of the clock: its own
    assert bounded["old"] is None  # 2 h old: not counted by the rule
    assert bounded["recent"] == T0 - 1800
    assert res["clip"] == [300, 299]  # never half a surrogate pair
    assert res["tb"] == "ValueError: bad"


def test_more_than_threshold_in_the_window_alerts_at_the_crossing_event(
    harness: HarnessRun,
) -> None:
    crossing = harness.results["crossing"]
    assert crossing["before"] == 0
    assert crossing["after"] == [{"pathname": "/app/a.py", "count": 26, "rule-time": T0 + 2.5}]


def test_at_most_one_alert_per_throttle_from_the_last_alert_sent(harness: HarnessRun) -> None:
    # Spike 1 crosses at +6.25. Spike 2 crosses at +34.25, only 28 s later: held until +36.25
    # (0.3.12's throttle, counting in fixed 30 s windows from +0, would have let it through).
    gate = harness.results["gate"]
    assert gate == [6.25, 36.25, 66.25, 96.25]
    assert all(b - a >= 30 for a, b in itertools.pairwise(gate))


def test_a_backlog_read_at_once_is_windowed_on_its_own_time(harness: HarnessRun) -> None:
    backlog = harness.results["backlog"]
    # 30 errors one minute apart, read in one go: no alert, from @timestamp or a numeric time.
    assert backlog["timestamp"] == [] and backlog["numeric"] == []
    # A real spike half an hour ago: one alert, at its own time; two hours ago: none.
    assert backlog["spike-30min-ago"] == [
        {"pathname": "/app/a.py", "count": 26, "rule-time": T0 - 1800 + 2.5}
    ]
    assert backlog["spike-2h-ago"] == []
    # Messages without any time are windowed on arrival (what every message used to be).
    assert [a["count"] for a in backlog["arrival-time"]] == [26]


def test_a_time_far_from_now_cannot_silence_its_pathname(harness: HarnessRun) -> None:
    assert harness.results["far-from-now"] == {
        "milliseconds": [26],  # counted at its own time, with the spike
        "future": [26],
        "far-past": [26],  # not counted: the spike alone crosses
    }


def test_events_without_fields_are_not_indexed(harness: HarnessRun) -> None:
    indexing = harness.results["indexing"]
    assert indexing["consumed"] == ["consumed"] * 7
    # Non-JSON, [], null and arrays are not records: counted, logged once, neither indexed nor
    # counted by the rule. Riemann's own events (tagged) stay out. A string "time" (Go's slog)
    # is kept under time_raw.
    assert indexing["indexed"] == [
        {"message": "kept", "level": "info"},
        {"message": "slog", "time_raw": "2025-11-24T16:00:00.5Z"},
    ]
    assert indexing["unreadable"] == 4
    assert len(indexing["logged"]) == 1 and "not a JSON object" in indexing["logged"][0]


def test_the_config_s_deserializer_takes_what_stops_riemann_s_own(harness: HarnessRun) -> None:
    """Riemann 0.3.12's own decoding (riemann.kafka's json-deserializer, its consume loop
    mirrored) stops consuming on these values; with the config's :value.deserializer each is
    consumed."""
    indexing = harness.results["indexing"]
    assert harness.results["own-deserializer"] is True
    assert indexing["riemann-own"] == {
        '"a bare string"': "interrupted",
        "42": "interrupted",
        "true": "interrupted",
        "[1,2]": "interrupted",
        '{"time":"2025-11-24T16:00:00Z"}': "interrupted",
        '{"time":{}}': "interrupted",
        '{"time":100000000000000000000}': "interrupted",
        '{"time":true}': "interrupted",
        '{"time":[1]}': "interrupted",
        '{"time":1.7e9}': "consumed",
    }
    assert set(indexing["config"].values()) == {"consumed"}


def test_no_message_value_stops_the_consumer(harness: HarnessRun) -> None:
    """4,013 values of every kind (seeded: every JSON type, string/boolean/object/array times,
    integers beyond 64 bits, bare values, nested junk, non-JSON, 100,000 open brackets, a value
    over 1 MiB), one real error record of another file after each 160: consumption never
    stops, nothing reaches Riemann's rescue, and all 26 real records are counted (one alert)."""
    res = harness.results["never-stops"]
    assert res["values"] == 4013
    assert res["statuses"] == {"consumed": 26}
    assert res["rescued"] == []
    assert res["alerts"] == [{"pathname": "/app/real.py", "count": 26}]
    assert res["unreadable"] > 1000 and res["bulk-lines"] > 2 * 1000
    # The same values through Riemann's own decoding: over a thousand would have stopped it.
    assert res["riemann-own"].get("interrupted", 0) > 1000
    # JSON nested deeper than the thread's stack (Riemann's Jackson has no depth limit): a
    # StackOverflowError, caught in the deserializer, never reaching the loop.
    assert res["stack-overflow"] == ["returned", None, ["not JSON (StackOverflowError)"]]


def test_the_alert_sent_carries_bounded_evidence(harness: HarnessRun) -> None:
    assert harness.results["evidence-alerts"] == 1
    alert = json.loads(harness.alert_lines[1])
    assert alert["token"] == "tok-123" and alert["count"] == 26
    assert alert["message"] == "m6" and alert["lineno"] == 99  # the crossing event
    ev = alert["evidence"]
    # 6 distinct messages: the 5 most frequent, the 10,000-character one clipped to 300.
    assert ev["messages"] == [
        {"message": "x" * 300, "count": 10},
        {"message": "m2", "count": 6},
        {"message": "m3", "count": 4},
        {"message": "m4", "count": 3},
        {"message": "m5", "count": 2},
    ]
    assert ev["lines"] == [7, 12, 40, 99]
    assert ev["first"] == T0 and ev["last"] == T0 + 5.0
    assert ev["traceback"] == "ValueError: bad amount"
    assert len(harness.alert_lines[1]) < 3000


def test_the_rule_state_is_bounded(harness: HarnessRun) -> None:
    bounds = harness.results["bounds"]
    # 50 errors/s for 30 s of one pathname: the window's 0.1 s steps and the sample stay small.
    assert bounds["spike"]["steps"] <= 10 * 10 + 1
    assert bounds["spike"]["sample"] == 50
    assert 450 <= bounds["spike"]["n"] <= 501
    # 1,500 pathnames at once: at most 1,000 kept; once idle, they are dropped.
    assert bounds["many"] <= 1000
    assert bounds["after-idle"] == 1


def test_strangers_fields_of_any_type_break_nothing(harness: HarnessRun) -> None:
    """3,000 seeded messages whose fields take every JSON type (and huge or far-off values) go
    through the whole config: no exception, every _bulk body and alert line can be written, and
    the evidence stays within its bounds."""
    fuzz = harness.results["fuzz"]
    assert fuzz["statuses"] == {"consumed": 30}
    assert fuzz["rescued"] == []
    assert fuzz["bulk-lines"] > 2 * 1000
    assert fuzz["alerts"] >= 1
    assert fuzz["max-messages"] <= 5 and fuzz["max-message-chars"] <= 300
    assert fuzz["max-lines"] <= 20 and fuzz["lines-ints"]
    assert fuzz["max-traceback-chars"] <= 300
    assert fuzz["max-error-type-chars"] <= 200
    # The frames of the user's own code named (read from strangers' stacks): each bounded as
    # the listener bounds it, so it reads each as sent.
    assert fuzz["frames"]
    for frame in fuzz["frames"]:
        assert set(frame) <= {"file", "line", "function"} and 0 < len(frame["file"]) <= 500
        assert 0 < len(frame.get("function", "x")) <= 200
        assert 0 <= frame.get("line", 0) <= 10_000_000
    # The stacks themselves: no frame named, one cut to the listener's bounds (its line number
    # beyond them left out), another's text kept as sent (the listener cleans it), a blank file
    # never named.
    assert fuzz["stack-frames"] == [
        None,
        None,
        None,
        None,
        {"file": "f" * 500, "function": "g" * 200},
        {"file": "/app/a.js\t", "line": 12, "function": "\u0007fn\u202e"},
        None,
    ]


def test_writes_elasticsearch_refuses_are_told_once_as_a_pipeline_message(
    harness: HarnessRun,
) -> None:
    """An ES stand-in answering every _bulk with the flood-stage read-only block: five refused
    batches within 5 minutes are one pipeline message to the listener (kind "pipeline", never
    an alert), with the token, the cause and the index; one more after pipeline-every-s."""
    assert harness.blocked_bulks == 6
    assert len(harness.pipeline_lines) == 2
    first = json.loads(harness.pipeline_lines[0])
    assert first["kind"] == "pipeline" and first["source"] == "elasticsearch"
    assert first["token"] == "tok-123"
    assert first["problem"] == "flood_stage"
    assert first["status"] == 429 and first["error"] == "cluster_block_exception"
    assert "flood-stage watermark" in first["reason"]
    assert first["index"] == "program-logs-2025.11.24"
    assert first["failed"] == 2 and first["of"] == 2
    assert "pathname" not in first and "count" not in first  # not an alert
    assert json.loads(harness.pipeline_lines[1])["of"] == 1


def test_bulk_answers_are_classified_and_bounded(harness: HarnessRun) -> None:
    classified = harness.results["refused-writes"]["classified"]
    assert classified["ok"] is None
    assert classified["overloaded"]["problem"] == "overloaded"
    assert classified["overloaded"]["status"] == 429
    assert classified["mapping"]["problem"] == "mapping"
    assert "lineno" in classified["mapping"]["reason"]
    assert classified["closed"]["problem"] == "closed"
    assert classified["junk"]["problem"] == "rejected" and classified["junk"]["status"] == 500
    huge = classified["huge"]
    assert huge["problem"] == "blocked" and huge["failed"] == 1000  # items looked at: bounded
    assert len(huge["reason"]) <= 300


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_riemann_config_alerts_as_the_table_says(harness: HarnessRun, case: Case) -> None:
    """The shared rule-case table (tests/rule_cases.json): the engine runs the same cases in
    tests/pipeline/test_rule_cases.py."""
    seen = harness.results["rule-cases"][case.name]
    assert [relative(alert) for alert in seen] == case.alerts


def test_a_heartbeat_is_answered_at_once_and_never_counted_nor_indexed(harness: HarnessRun) -> None:
    beat = harness.results["heartbeat"]
    assert beat["answered"] == 1 and beat["indexed"] == 0
    answer = json.loads(harness.alert_lines[2])
    assert answer == {"heartbeat": "hb-1", "token": "tok-123"}  # the alert path, with the token
    # 30 heartbeats that also look like errors of one file: 30 answers, no rule state, no alert
    assert beat["marked-errors"] == {"answers": 30, "rule-alerts": 0, "paths": 0, "indexed": 0}
    assert beat["not-heartbeats"] == [False, False, False, False]


def test_the_alert_id_is_the_trays_and_the_topic_record_has_no_token(harness: HarnessRun) -> None:
    res = harness.results
    # The same id as logtray's engine gives (tray/alerts/dedupe.py): one formula, two senders.
    assert res["line-id"] == alert_id("/app/a.py", T0 + 2.5)
    record = res["topic-record"]
    assert "token" not in record and record["id"] == res["line-id"]
    assert record["pathname"] == "/app/a.py" and record["count"] == 26
    assert record["time"] == "2025-11-24T16:00:02.500Z"


def test_every_alert_is_published_to_the_alerts_topic_by_default(harness: HarnessRun) -> None:
    """The full profile keeps every alert: with ALERTS_TOPIC unset the config publishes to
    "logtray-alerts"; every alert of the shared rule cases is queued for the topic as it is for
    the listener, as the same record (without the token, with the same id); a heartbeat's
    answer is the listener's only (it never reaches the history)."""
    published = harness.results["published"]
    assert published["topic-name"] == "logtray-alerts"
    by_name = {case["name"]: case for case in published["cases"]}
    assert sorted(by_name) == sorted(case.name for case in CASES)
    for case in CASES:
        seen = by_name[case.name]
        assert seen["same-events"], case.name
        assert len(seen["topic"]) == len(case.alerts), case.name
        assert seen["topic"] == seen["listener"], case.name
        ids = [record["id"] for record in seen["topic"]]
        assert len(set(ids)) == len(ids), case.name
        assert all("token" not in record for record in seen["topic"])
        # What the tray makes of each record: the alert the TCP line gives, the same id.
        for record in seen["topic"]:
            alert = parse_message(json.dumps(record))
            assert alert is not None and alert.id == record["id"], record
    assert sum(len(case.alerts) for case in CASES) > 0
    assert published["heartbeat"] == {"listener": 1, "topic": 0}


def test_a_broker_outage_does_not_stall_the_alerts_to_the_listener(harness: HarnessRun) -> None:
    """Riemann's Kafka output (riemann.kafka/kafka over a stubbed kinsky: no Kafka client jar
    here) on its own executor: while the broker is down, the streams return with the topic's
    send still waiting, and the three alerts reach the real TCP listener; once it is back,
    the topic gets the same three, without the token, with the same ids."""
    outage = harness.results["topic-outage"]
    assert outage["while-down"] == {
        "in-flight-when-streams-returned": 1,
        "tcp-delivered": 3,
        "topic-sent": 0,
        "broker-up": False,
    }
    assert outage["topics"] == ["logtray-alerts"]
    on_topic = [json.loads(v) for v in outage["topic"]]
    over_tcp = [json.loads(line) for line in harness.alert_lines[3:6]]
    assert [a["pathname"] for a in over_tcp] == ["/app/pay.py", "/app/ship.py", "/app/cart.py"]
    assert on_topic == [{k: v for k, v in a.items() if k != "token"} for a in over_tcp]
    assert all(a["token"] == "tok-123" for a in over_tcp)
    assert len({a["id"] for a in on_topic}) == 3
    # What the tray makes of a topic message: the listener's own parse, the same alert.
    parsed = parse_message(outage["topic"][0])
    assert parsed is not None and parsed.id == on_topic[0]["id"] and parsed.count == 26
    # Each line waited durable-wait-s for its topic copy, then went: told before the ack.
    assert outage["stats"] == {
        "sent": 3,
        "failed": 0,
        "dropped": 0,
        "down": False,
        "told-first": 3,
    }


def test_publish_failures_are_counted_and_logged_once(harness: HarnessRun) -> None:
    failures = harness.results["topic-failures"]
    assert failures["while-down"] == {"sent": 0, "failed": 3, "dropped": 0, "down": True}
    assert failures["after"] == {"sent": 1, "failed": 3, "dropped": 0, "down": False}
    assert len(failures["logged"]) == 1 and "failed 1 alert(s)" in failures["logged"][0][1]
    assert failures["again"] == [["info", "publishing alerts to logtray-alerts again"]]
    # The producer's settings, as kinsky hands them to KafkaProducer: a send waits at most
    # 5 s for a broker that is down (Kafka's default is 60 s).
    assert failures["config"] == {
        "bootstrap.servers": "kafka:9092",
        "acks": "1",
        "max.block.ms": "5000",
        "request.timeout.ms": "10000",
        "delivery.timeout.ms": "30000",
    }


def test_a_full_topic_queue_drops_for_the_topic_only(harness: HarnessRun) -> None:
    overflow = harness.results["topic-overflow"]
    # One send waiting, 1000 queued, 9 dropped (counted, logged once); the listener got all.
    assert overflow["while-down"] == {
        "sent": 0,
        "failed": 0,
        "dropped": 9,
        "down": False,
        "listener": 1010,
    }
    assert overflow["sent"] == 1001
    assert len(overflow["logged"]) == 1
    # ALERTS_TOPIC unset: alerts go to the listener only.
    assert overflow["off"] == {"alerts": 1}


def test_an_alert_is_on_the_topic_before_its_tcp_line_or_after_the_bound(
    harness: HarnessRun,
) -> None:
    """Durable before told: the TCP line waits for the topic copy's ack (the broker acking
    late: the line only after it), at most durable-wait-s (never acked: the line goes, counted
    and logged once); the wait is the TCP queue's, never the streams'."""
    durable = harness.results["durable-before-told"]
    assert durable["late"] == {"tcp-before-ack": 0, "topic": 1}
    never = durable["never"]
    assert never["unacked"] == 1 and never["topic"] == 0
    assert never["stats"] == {"sent": 1, "told-first": 1}
    # Logged once so far: at the outage's first line (the 1st, then every 1000th).
    assert never["logged"] == [
        "sent 1 alert line(s) so far to logtray's listener before logtray-alerts acked them "
        "(each waits at most 0.2 s for it)"  # the bound shortened here
    ]
    lines = [json.loads(line) for line in harness.alert_lines[6:]]
    assert [a["pathname"] for a in lines] == ["/app/late.py", "/app/never.py"]
    code = "\n".join(line.split(";")[0] for line in TEXT.splitlines())
    assert "(def durable-wait-s 2)" in code


def test_every_shape_fixture_is_in_the_table(harness: HarnessRun) -> None:
    assert sorted(harness.results["shapes"]) == sorted(EXPECTED_SHAPES)


@pytest.mark.parametrize("logger", sorted(EXPECTED_SHAPES))
def test_riemann_reads_each_logger_as_the_shape_table_says(
    harness: HarnessRun, logger: str
) -> None:
    """The shape table (tests/shapes: real loggers' output, the rules in its README), run
    through the consumer path: the first ERROR record's normalized fields, and one alert for
    the logger's 12 errors sent 3 times within one second, on the expected group key. The
    engine runs the same table (tests/pipeline/test_shapes.py)."""
    expected = EXPECTED_SHAPES[logger]
    seen = harness.results["shapes"][logger]
    fields = seen["fields"]
    for key in (
        "level",
        "message",
        "template",
        "file",
        "line",
        "group",
        "error_type",
        "error_message",
        "service",
        "logger",
    ):
        assert fields.get(key) == expected[key], key
    if expected["time"] is None:
        assert fields.get("time") is None
    else:
        assert fields["time"] == pytest.approx(expected["time"], abs=0.001)
    assert seen["alerts"] == [{"pathname": expected["group"], "count": 26}]


# Where the full profile's alert names no frame though the lite engine's does: riemann.config
# reads the frame with the error kinds' rule (user-frame: Python's frames and "at" lines, as
# tests/kind_cases.md says), the engine with pipeline/frames.py (Go's and .NET's notations
# too). Of the fixtures only zap's Go stack is in a notation the kinds' rule does not
# read (docs/languages.md, "What the popup says").
NO_FULL_PROFILE_FRAME = {"go-zap"}


@pytest.mark.parametrize("logger", sorted(EXPECTED_SHAPES))
def test_riemann_s_alert_names_the_lite_engine_s_error_type_and_frame(
    harness: HarnessRun, logger: str
) -> None:
    """Each fixture's spike: the alert line riemann.config sends, read by the tray's own
    parse_message and parse_evidence, names the error type the embedded engine's alert names
    for the same records, and the same file, line and function of the user's own frame."""
    [line] = harness.results["shapes"][logger]["alert-lines"]
    riemann = parse_message(line)
    assert riemann is not None and riemann.evidence is not None
    sent = parse_evidence(json.loads(line)["evidence"])
    assert sent is not None
    lite = engine_alert(logger)
    lite_type = lite.evidence.error_type if lite.evidence else None
    assert sent.error_type == lite_type  # carried, not read back from the error line
    assert riemann.error_type == lite.error_type
    lite_frame = lite.frame
    if logger in NO_FULL_PROFILE_FRAME:
        assert riemann.frame is None and lite_frame is not None
        return
    if lite_frame is None:
        assert riemann.frame is None
        return
    assert riemann.frame is not None
    where = (riemann.frame.file, riemann.frame.line, riemann.frame.function)
    assert where == (lite_frame.file, lite_frame.line, lite_frame.function)


@pytest.mark.parametrize(
    ("value", "expected"), [(v, e) for _, v, e in READINGS], ids=[n for n, _, _ in READINGS]
)
def test_riemann_reads_records_by_the_shape_rules(
    harness: HarnessRun, value: Any, expected: dict[str, Any]
) -> None:
    i = [v for _, v, _ in READINGS].index(value)
    seen = harness.results["readings"][i]
    fields = dict(seen["logtray"] or {})
    for key, want in expected.items():
        got = seen["time_raw"] if key == "time_raw" else fields.get(key)
        if key == "time" and want is not None:
            assert got == pytest.approx(want, abs=0.001), key
        else:
            assert got == want, key


def test_both_profiles_read_every_record_alike(harness: HarnessRun) -> None:
    """3,000 seeded records mixing every shape's keys with values of every JSON type: the
    engine's reading (logtray.pipeline.record) and riemann.config's agree on every field."""
    record = pytest.importorskip("logtray.pipeline.record", reason="the engine's reading")
    seen = harness.results["readings"][len(READINGS) :]
    seen = seen[: len(PARITY)]
    assert len(seen) == len(PARITY)
    differ = []
    for value, riemann in zip(PARITY, seen, strict=True):
        normalized = record.normalize(json.loads(value))
        mine = riemann["logtray"]
        if normalized is None:
            if mine is not None:
                differ.append((value, "a record", "none"))
            continue
        error = normalized.error
        want = {
            "level": normalized.level,
            "message": normalized.message,
            "template": normalized.template,
            "file": normalized.file,
            "line": normalized.line,
            "group": normalized.group,
            "time": normalized.time,
            "service": normalized.service,
            "logger": normalized.logger,
            "error_type": error.type,
            "error_message": error.message,
        }
        for key, expected in want.items():
            got = (mine or {}).get(key)
            if isinstance(expected, float) and isinstance(got, (int, float)):
                if abs(got - expected) <= 0.001:
                    continue
            elif got == expected:
                continue
            differ.append((value[:200], key, expected, got))
    assert differ == []


def test_every_field_sent_to_elasticsearch_has_one_type(harness: HarnessRun) -> None:
    """Elasticsearch fixes a field's type from the day's first value and refuses records that
    disagree. The whole shape table, every reading above (the seeded ones too) and 2,000 junk
    values go into one day's index: each field path of the documents has one JSON type."""
    es = harness.results["es-types"]
    assert es["values"] > 5000 and es["docs"] > 3000
    assert es["conflicts"] == {}
    assert es["paths"] == [
        "",
        ".@timestamp",
        ".logtray",
        ".logtray.error_message",
        ".logtray.error_type",
        ".logtray.file",
        ".logtray.group",
        ".logtray.kind",
        ".logtray.level",
        ".logtray.line",
        ".logtray.logger",
        ".logtray.message",
        ".logtray.service",
        ".logtray.template",
        ".logtray.traceback",
        ".record",
    ]


KIND_CASES: list[dict[str, Any]] = KIND_TABLE["cases"]
KIND_PRINTS: list[dict[str, Any]] = KIND_TABLE["fingerprints"]


@pytest.mark.parametrize("entry", KIND_PRINTS, ids=[entry["record"] for entry in KIND_PRINTS])
def test_riemann_reads_each_record_s_kind_as_the_table_says(
    harness: HarnessRun, entry: dict[str, Any]
) -> None:
    """The error kinds' table (tests/kind_cases.json): the engine reads the same kinds
    (tests/pipeline/test_kind_cases.py)."""
    assert harness.results["kind-cases"]["fingerprints"][entry["record"]] == entry["kind"]


@pytest.mark.parametrize("case", KIND_CASES, ids=[case["name"] for case in KIND_CASES])
def test_riemann_s_kind_book_tells_what_the_table_says(
    harness: HarnessRun, case: dict[str, Any]
) -> None:
    """Each case through the config's streams with Riemann's clock at each step: the same
    decisions as the engine's KindBook on the same table."""
    assert harness.results["kind-cases"]["cases"][case["name"]] == case["told"]


def test_kind_alerts_are_lines_the_listener_takes_as_kind_alerts(harness: HarnessRun) -> None:
    """Every alert the kinds' cases told, as the line sent to the listener: the listener's own
    parser reads its kind, the kind's id, a title and the token; a learning window is checked
    every second even when no record comes."""
    kinds = harness.results["kind-cases"]
    assert kinds["scheduled"] == [1]
    told = [t for case in KIND_CASES for t in case["told"]]
    lines = kinds["lines"][: len(told)]  # the table's cases come first, then the seeded ones
    for line, want in zip(lines, told, strict=True):
        alert = parse_message(line)
        assert alert is not None and alert.kind == want["told"], line
        assert alert.title and alert.service == (want["service"] or None)
        assert json.loads(line)["token"] == "tok-123"
        if want["told"] in ("new", "regressed"):
            assert alert.kind_id == want["kind"] and alert.evidence is not None
            assert (alert.id or "").startswith(f"kind-{want['told']}-{want['kind']}-")
        if want["told"] == "burst":
            assert alert.count == want["count"]
        assert alert.id is not None  # the same on the TCP line and the alerts topic


def test_the_known_kinds_outlive_a_restart_in_the_kinds_topic(harness: HarnessRun) -> None:
    """The kinds topic as the engine writes it, read on start: records that arrive meanwhile
    are held, then told against it (the resolved kind regressed, the known one quiet, a new
    one New: its service is known, not learning); what changed is written on the tick in the
    engine's format; a restart reads it back and tells nothing again; a resolve written while
    Riemann runs is followed (the kind regresses when seen again), a state that is not the
    command's is not; an unreadable broker starts
    an empty book with the held records in it."""
    kept = harness.results["kinds-kept"]
    ecs = kind_named("python-ecs-logging")
    assert ecs is not None
    pino = KEPT_PINO.kind
    assert kept["held"] == 3
    assert kept["first-start"] == [
        {"told": "regressed", "service": "payments", "kind": pino.id},
        {"told": "new", "service": "payments", "kind": ecs.id},
    ]
    assert kept["loaded"] == 3  # the two kept, and the new one
    written = [(k.encode(), None if v is None else v.encode()) for k, v in kept["written"]]
    assert len(written) == 3
    both = latest(KINDS_TOPIC_MESSAGES + written)  # as the engine reads the topic
    states = {known.key: (known.state, known.count) for known in both}
    assert states == {
        (pino.service, pino.id): ("open", 4),
        (KEPT_LOGTRAY.kind.service, KEPT_LOGTRAY.kind.id): ("open", 4),
        (ecs.service, ecs.id): ("open", 1),
    }
    assert kept["restarted"] == []
    assert kept["stopped"] is True
    assert kept["followed"] == [{"told": "regressed", "service": "payments", "kind": pino.id}]
    assert kept["not-followed"] == "open"
    assert kept["down"] == {"loading": False, "kinds": 3, "learning": ["payments"], "logged": 1}


def test_a_stop_writes_what_the_kinds_book_has_not_written_yet(harness: HarnessRun) -> None:
    """Riemann 0.3.12 stops on SIGTERM by the JVM's exit alone: the config's shutdown hook
    writes a kind first seen just before the stop (the tick had not written it), so the
    restart does not tell it as New again; it writes after what the queue still writes (the
    same kind's older state first), closes the producer, and with the broker down gives up
    within its bound, said. A reload keeps the one hook."""
    stop = harness.results["kinds-stop"]
    pino, ecs = kind_named("node-pino"), kind_named("python-ecs-logging")
    assert pino is not None and ecs is not None
    assert stop["told"] == ["new"]
    assert stop["before-stop"] == 1  # the topic as it was: the new kind not yet written
    assert stop["stopped"] == [[f"{pino.service}\n{pino.id}", 1, "open"]]
    assert stop["closed"] == 1
    assert stop["restarted"] == []  # known from the topic: not New again
    key = f"{ecs.service}\n{ecs.id}"
    assert stop["ordered"] == {"flushed": True, "written": [[key, 1, "open"], [key, 2, "open"]]}
    assert stop["down"] == {"flushed": False, "written": 0, "logged": 1}
    assert harness.results["reload-keeps-hook"] == {"same": True, "removed": [True, False]}
    code = "\n".join(line.split(";")[0] for line in TEXT.splitlines())
    assert code.count(".addShutdownHook") == 1 and "(defonce kinds-stop-hook" in code


def test_a_failed_kinds_write_is_written_again_on_the_next_tick(harness: HarnessRun) -> None:
    """A kinds write that fails (the producer's send throws) or that the full queue drops:
    the kinds it carried are written on the next tick, in their state then (seen again
    meanwhile: count 2); the forgotten keys put back are at most max_kinds."""
    again = harness.results["kinds-rewritten"]
    pino, ecs = kind_named("node-pino"), kind_named("python-ecs-logging")
    assert pino is not None and ecs is not None
    assert again["failed"] == []
    assert again["after-failure"] == [[f"{pino.service}\n{pino.id}", 2, "open"]]
    assert again["dropped"] == []
    assert again["after-drop"] == [[f"{ecs.service}\n{ecs.id}", 1, "open"]]
    assert again["gone-bounded"] == 2


def test_a_reload_carries_the_kinds_book_and_closes_the_old_producer(harness: HarnessRun) -> None:
    """A config reload (SIGHUP) while the book has a kind not yet written: it is not told New
    again after the reload, and the next tick writes it with its count; the producer the
    earlier evaluation made is closed, one is left open."""
    reload = harness.results["kinds-reload"]
    pino, ecs = kind_named("node-pino"), kind_named("python-ecs-logging")
    assert pino is not None and ecs is not None
    assert reload["told"] == ["new", "new"]
    assert reload["made-before"] == 1
    assert reload["after"] == []
    assert reload["written"] == [
        [f"{ecs.service}\n{ecs.id}", 1, "open"],
        [f"{pino.service}\n{pino.id}", 2, "open"],
    ]
    assert reload["closed"] is True
    assert reload["open"] == 1


def test_both_profiles_find_the_same_kind_in_every_record(harness: HarnessRun) -> None:
    """The hand-written readings, 3,000 seeded records mixing every shape's keys with values of
    every JSON type, and 2,000 seeded error records built from the parts a kind is read from
    (kind_values): the engine's kind_of and riemann.config's record-kind agree on every record
    (none, or every part)."""
    from logtray.pipeline.kinds import kind_of
    from logtray.pipeline.record import normalize
    from tests.kind_cases import kind_json

    values = [v if isinstance(v, str) else json.dumps(v) for _, v, _ in READINGS] + PARITY
    values += KIND_VALUES
    seen = harness.results["readings"]
    assert len(seen) == len(values)
    differ, kinds = [], 0
    for value, riemann in zip(values, seen, strict=True):
        try:
            record = normalize(json.loads(value))
        except ValueError:
            record = None
        want = kind_json(kind_of(record)) if record is not None else None
        got = (riemann["logtray"] or {}).get("kind")
        got = (
            {k: got[k] for k in ("id", "service", "type", "template", "file", "line")}
            if got
            else None
        )
        kinds += want is not None
        if got != want:
            differ.append((value[:300], want, got))
    assert differ == []
    assert kinds > 1000  # the seeded records hold many error kinds, not only none


def test_kinds_topic_values_of_strangers_are_read_as_the_engine_reads_them(
    harness: HarnessRun,
) -> None:
    """3,000 seeded values a stranger could leave on the kinds topic (a kept kind's fields
    dropped or replaced by JSON of every type: huge numbers, booleans, nesting, long strings):
    none breaks the reading, and riemann.config keeps from each exactly what the engine's
    known_from_json keeps (nothing, or the same kind, its id recomputed)."""
    from logtray.pipeline.kinds import known_from_json

    strangers = harness.results["kinds-strangers"]
    differ, kept = [], 0
    for value, riemann in zip(strangers["values"], strangers["read"], strict=True):
        known = known_from_json(json.loads(value))
        want = known.to_json() if known is not None else None
        kept += want is not None
        if riemann != want:
            differ.append((value[:300], want, riemann))
    assert differ == []
    assert 100 < kept < 3000  # both kinds of value are among them
    # Under two keys (every other value under the good kind's key, the rest under one that is
    # no kind's): what the latest message of each leaves, as the engine reads the topic.
    key = kind_key("payments", kind_id("E", "t <n>", "f.py"))
    messages = [
        (key if i % 2 == 0 else b"k", v.encode()) for i, v in enumerate(strangers["values"])
    ]
    assert strangers["latest"] == [known.to_json() for known in latest(messages)]
    assert strangers["commands"] > 0 and strangers["followed"] in ("open", "resolved", "muted")


def test_both_books_tell_the_same_over_seeded_random_cases(harness: HarnessRun) -> None:
    """300 seeded cases beyond the table (random_kind_cases): kept kinds in any state, records
    in any order at any time, resolve/mute/reopen, learning, bursts and forgetting on small
    bounds: riemann.config's book tells exactly what the engine's KindBook tells."""
    from tests.kind_cases import run_book

    seen = harness.results["kind-cases"]["cases"]
    differ = [
        (case["name"], want, seen[case["name"]])
        for case in RANDOM_KIND_CASES
        if (want := run_book(case)) != seen[case["name"]]
    ]
    if differ:
        name, want, got = differ[0]
        case = next(c for c in RANDOM_KIND_CASES if c["name"] == name)
        pytest.fail(f"{len(differ)} differ; first {json.dumps(case)}\nwant {want}\ngot  {got}")
    told = {t["told"] for case in RANDOM_KIND_CASES for t in run_book(case)}
    assert told == {"new", "regressed", "burst", "learned"}
