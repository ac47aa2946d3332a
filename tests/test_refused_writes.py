"""Writes Elasticsearch refuses: the pipeline message riemann.config sends reaches the tray's
listener as what it is (never an alert), bounded; its words say which watermark was crossed and
the fix; Repair's call really clears the block on an HTTP server."""

from __future__ import annotations

import asyncio
import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.stack.es_writes import Disk, clear_read_only_block, explain, unblock_command
from logtray.stack.preflight import GIB
from logtray.tray.alerts.listener import AlertListener
from logtray.tray.alerts.pipeline import PROBLEMS, PipelineMessage, from_extra
from logtray.tray.base.config import ListenerConfig
from logtray.tray.base.errors import LogtrayError

TOKEN = "pipeline-token"
# What riemann.config sends (tests/stack/test_riemann_config.py proves its side).
FLOOD = {
    "kind": "pipeline",
    "source": "elasticsearch",
    "problem": "flood_stage",
    "status": 429,
    "error": "cluster_block_exception",
    "reason": "index [program-logs-2026.12.02] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
    "exceeded flood-stage watermark, index has read-only-allow-delete block];",
    "index": "program-logs-2026.12.02",
    "failed": 500,
    "of": 500,
    "time": "2026-12-02T07:00:00Z",
    "token": TOKEN,
}


def test_a_pipeline_message_goes_to_its_sink_never_to_the_alerts() -> None:
    async def scenario() -> None:
        alerts: list[Any] = []
        pipeline: list[PipelineMessage] = []
        listener = AlertListener(
            ListenerConfig(port=0, token=TOKEN),
            lambda alert, peer, t: alerts.append(alert),
            on_pipeline=pipeline.append,
        )
        await listener.start(["127.0.0.1"])
        port = listener.addresses[0][1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        bad = {**FLOOD, "problem": "rm -rf /"}
        for message in (FLOOD, bad, {**FLOOD, "source": "someone"}):
            writer.write(json.dumps(message).encode() + b"\n")
        writer.write(b'{"pathname": "/app/a.py", "count": 26, "token": "pipeline-token"}\n')
        await writer.drain()
        writer.close()
        for _ in range(500):
            if alerts:
                break
            await asyncio.sleep(0.01)
        await listener.stop()
        assert [a.pathname for a in alerts] == ["/app/a.py"]  # the real alert only
        assert len(pipeline) == 1 and listener.stats.pipeline == 1
        got = pipeline[0]
        assert (got.source, got.problem, got.status, got.index) == (
            "elasticsearch",
            "flood_stage",
            429,
            "program-logs-2026.12.02",
        )
        assert listener.stats.junk == 2  # the malformed ones: counted, never shown

    asyncio.run(asyncio.wait_for(scenario(), 30))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["kind", "source", "problem", "status", "error", "reason", "index", "failed", "of"]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=2000)
        | st.lists(st.integers(), max_size=3)
        | st.sampled_from(["pipeline", "elasticsearch", *PROBLEMS]),
    )
)
def test_any_fields_give_a_bounded_message_or_none(extra: dict[str, Any]) -> None:
    message = from_extra(extra)
    if message is None:
        return
    assert message.problem in PROBLEMS and message.source == "elasticsearch"
    assert len(message.reason) <= 300 and "\n" not in message.reason
    assert message.index is None or len(message.index) <= 255
    assert message.status is None or 100 <= message.status <= 599
    for count in (message.failed, message.of):
        assert count is None or 0 <= count <= 10**9
    title, cause, fix = explain(message.problem, reason=message.reason, index=message.index)
    assert title and cause and fix


def _disk(used: float) -> Disk:
    total = 100 * GIB
    return Disk("/var/lib/docker", int(total * (1 - used)), total)


def test_the_words_say_which_watermark_was_crossed_and_the_fix() -> None:
    url = "http://127.0.0.1:19200"
    title, cause, fix = explain(
        "flood_stage", index="program-logs-x", failed=500, of=500, disk=_disk(0.97), es_url=url
    )
    assert title == "Elasticsearch refuses writes: disk full"
    assert "500 of 500 events to program-logs-x refused" in cause
    assert "/var/lib/docker is 97% full, 3.0 GiB free: past Elasticsearch's flood-stage" in cause
    assert "free disk where Docker keeps its data" in fix and "Repair clears it now" in fix
    assert unblock_command(url) in fix
    assert "'http://127.0.0.1:19200/_all/_settings'" in unblock_command(url)
    _, cause, _ = explain("flood_stage", disk=_disk(0.92))
    assert "still past the high watermark (90%), so the block stays" in cause
    _, cause, _ = explain("flood_stage", disk=_disk(0.5))
    assert "below both watermarks now" in cause
    _, cause, _ = explain("flood_stage")  # the engine's disk not visible (a VM)
    assert "flood-stage watermark (95%)" in cause
    assert "mem_limit" in explain("overloaded", reason="rejected")[2]
    assert "one type" in explain("mapping", reason="failed to parse [lineno]")[2]
    assert "/program-logs-x/_open" in explain("closed", index="program-logs-x")[2]
    assert "HTTP 500" in explain("rejected", status=500)[1]


@pytest.fixture
def es_standin() -> Iterator[tuple[str, list[tuple[str, str, bytes]], list[int]]]:
    """An HTTP server recording PUTs, answering with the status the test sets."""
    seen: list[tuple[str, str, bytes]] = []
    answer = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.path, self.headers.get("Content-Type", ""), body))
            out = b'{"acknowledged":true}' if answer[0] < 300 else b'{"error":"nope"}'
            self.send_response(answer[0])
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen, answer
    finally:
        server.shutdown()
        server.server_close()


def test_repair_clears_the_read_only_block(
    es_standin: tuple[str, list[tuple[str, str, bytes]], list[int]],
) -> None:
    url, seen, answer = es_standin
    clear_read_only_block(url)
    path, ctype, body = seen[0]
    assert path == "/_all/_settings" and ctype == "application/json"
    assert json.loads(body) == {"index.blocks.read_only_allow_delete": None}
    answer[0] = 403
    with pytest.raises(LogtrayError) as refused:
        clear_read_only_block(url)
    assert "HTTP 403" in refused.value.message and "curl -X PUT" in (refused.value.fix or "")
    with pytest.raises(LogtrayError) as away:
        clear_read_only_block("http://127.0.0.1:1", timeout=2)
    assert "cannot reach Elasticsearch" in away.value.message
