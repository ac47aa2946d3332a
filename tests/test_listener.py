"""The listener against real TCP sockets on loopback (and a real non-loopback peer)."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

from logtray.tray.alerts.listener import AlertListener
from logtray.tray.base.config import ListenerConfig
from logtray.tray.base.errors import LogtrayError
from tests.conftest import need

TOKEN = "test-token"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def started(**overrides):
    received = []
    config = ListenerConfig(port=0, token=TOKEN, **overrides)
    listener = AlertListener(config, lambda alert, peer, t: received.append((alert, peer)))
    await listener.start(["127.0.0.1"])
    return listener, received, listener.addresses[0][1]


async def send(port, data: bytes, close=True):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
    return reader, writer


async def until(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_many_concurrent_connections_each_with_many_messages():
    async def scenario():
        listener, received, port = await started()
        clients = 50
        per_client = 40

        async def client(n):
            lines = b"".join(
                f'{{"pathname": "/app/f{n}.py", "count": {i}}}\n'.encode()
                for i in range(per_client)
            )
            await send(port, lines)

        await asyncio.gather(*(client(n) for n in range(clients)))
        await until(lambda: len(received) == clients * per_client)
        assert listener.stats.connections == clients
        await until(lambda: listener.active == 0)
        await listener.stop()

    run(scenario())


def test_original_riemann_message_without_newline_then_close():
    async def scenario():
        _, received, port = await started()
        await send(port, b"FOUND PROBLEM IN /app/a.py:7")
        await until(lambda: received)
        alert, peer = received[0]
        assert (alert.pathname, alert.lineno, peer) == ("/app/a.py", 7, "127.0.0.1")

    run(scenario())


def test_crlf_blank_lines_and_invalid_utf8():
    async def scenario():
        _, received, port = await started()
        await send(port, b"first\r\n\r\n\n\xff\xfebad bytes\n")
        await until(lambda: len(received) == 2)
        assert received[0][0].message == "first"
        assert received[1][0].message == "\ufffd\ufffdbad bytes"

    run(scenario())


def test_oversized_line_is_dropped_and_the_connection_keeps_working():
    async def scenario():
        listener, received, port = await started(max_line_bytes=1024)
        await send(port, b"x" * 5000 + b"\nafter\n")
        await until(lambda: received)
        assert [a.message for a, _ in received] == ["after"]
        assert listener.stats.oversized == 1

    run(scenario())


def test_idle_connections_time_out():
    async def scenario():
        listener, _, port = await started(idle_timeout_s=0.2)
        reader, _ = await send(port, b"", close=False)
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the listener
        assert listener.stats.timed_out == 1

    run(scenario())


def test_at_the_cap_a_loopback_sender_still_gets_a_slot():
    async def scenario():
        listener, received, port = await started(max_connections=3)
        held = [await send(port, b"", close=False) for _ in range(3)]
        await until(lambda: listener.active == 3)
        # the first one is the least recently active: it makes room for the newcomer
        await send(port, b"local alert\n")
        await until(lambda: received)
        assert received[-1][0].message == "local alert"
        assert listener.stats.evicted == 1
        assert await asyncio.wait_for(held[0][0].read(), 3) == b""
        for _, writer in held:
            writer.close()
        await until(lambda: listener.active == 0)
        await listener.stop()

    run(scenario())


def test_a_crashing_sink_does_not_stop_the_listener():
    async def scenario():
        calls = []

        def sink(alert, peer, t):
            calls.append(alert)
            raise RuntimeError("boom")

        listener = AlertListener(ListenerConfig(port=0, token=TOKEN), sink)
        await listener.start(["127.0.0.1"])
        port = listener.addresses[0][1]
        await send(port, b"one\ntwo\n")
        await until(lambda: len(calls) == 2)
        await listener.stop()

    run(scenario())


def test_taken_port_is_a_clear_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        async def scenario():
            listener = AlertListener(ListenerConfig(port=port, token=TOKEN), lambda *a: None)
            await listener.start(["127.0.0.1"])

        with pytest.raises(LogtrayError, match=f"port {port} on 127.0.0.1 is already in use"):
            run(scenario())


def test_optional_host_that_does_not_exist_only_warns(caplog):
    async def scenario():
        listener = AlertListener(ListenerConfig(port=0, token=TOKEN), lambda *a: None)
        await listener.start(["127.0.0.1"], optional_hosts=["192.0.2.77"])
        assert [host for host, _ in listener.addresses] == ["127.0.0.1"]
        await listener.stop()

    run(scenario())
    assert "not listening on 192.0.2.77" in caplog.text


@pytest.fixture
def peer_namespace():
    """A network namespace of our own with a veth pair: a real non-loopback peer."""
    need(os.geteuid() == 0 and shutil.which("ip") is not None, "needs root and iproute2 for netns")
    name = f"lt-{uuid.uuid4().hex[:6]}"
    # Our own addresses inside our own namespace (192.0.2.0/24 is filtered on these machines).
    net = f"10.203.{int(name[3:5], 16)}"
    host_if, ns_if = f"{name}-h", f"{name}-n"
    cmds = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", name],
        ["ip", "addr", "add", f"{net}.1/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "-n", name, "addr", "add", f"{net}.2/30", "dev", ns_if],
        ["ip", "-n", name, "link", "set", ns_if, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        for cmd in cmds:
            subprocess.run(cmd, check=True, capture_output=True)
        yield name, f"{net}.1", f"{net}.2"
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


async def in_namespace(namespace: str, *command: str, **pipes: int) -> asyncio.subprocess.Process:
    """`command` run inside the peer namespace: a sender with a real non-loopback address."""
    return await asyncio.create_subprocess_exec("ip", "netns", "exec", namespace, *command, **pipes)


def test_non_loopback_senders_need_the_token(peer_namespace):
    namespace, host_ip, peer_ip = peer_namespace

    async def scenario():
        received = []
        listener = AlertListener(
            ListenerConfig(port=0, token=TOKEN), lambda a, peer, t: received.append((a, peer))
        )
        await listener.start([host_ip])
        port = listener.addresses[0][1]
        payload = (
            "no token here\n"
            '{"message": "wrong", "token": "guess"}\n'
            f'{{"message": "right", "token": "{TOKEN}"}}\n'
        )
        code = (
            "import socket,sys; s=socket.create_connection((sys.argv[2], int(sys.argv[1])));"
            "s.sendall(sys.stdin.buffer.read()); s.close()"
        )
        proc = await in_namespace(
            namespace, sys.executable, "-c", code, str(port), host_ip, stdin=asyncio.subprocess.PIPE
        )
        await proc.communicate(payload.encode())
        await until(lambda: listener.stats.dropped_no_token == 2 and received)
        assert [(a.message, peer) for a, peer in received] == [("right", peer_ip)]
        await listener.stop()

    run(scenario())


def test_a_line_trickled_byte_by_byte_is_cut_off_at_the_line_timeout():
    async def scenario():
        listener, received, port = await started(line_timeout_s=0.5, idle_timeout_s=60)
        reader, writer = await send(port, b"", close=False)
        closed = asyncio.ensure_future(reader.read())
        for _ in range(100):  # one byte every 50 ms: never idle, never a line
            if closed.done():
                break
            writer.write(b"x")
            await asyncio.sleep(0.05)
        assert await asyncio.wait_for(closed, 5) == b""
        assert listener.stats.slow_lines == 1 and received == []
        writer.close()
        await listener.stop()

    run(scenario())


def test_junk_and_deep_json_are_counted_not_delivered_and_logged_once(caplog):
    async def scenario():
        listener, received, port = await started()
        deep = b'{"pathname": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"
        junk = bytes(range(256)).replace(b"\n", b"") + b"\n"
        await asyncio.gather(*(send(port, junk * 10 + deep) for _ in range(16)))
        await send(port, b'{"pathname": "/app/real.py", "count": 40}\n')
        await until(lambda: received)
        assert [a.pathname for a, _ in received] == ["/app/real.py"]
        assert listener.stats.junk == 16 * 11
        await listener.stop()

    run(scenario())
    assert caplog.text.count("not an alert") == 1


def test_peers_off_this_machine_get_a_bounded_share(peer_namespace):
    namespace, host_ip, _ = peer_namespace

    async def scenario():
        received = []
        config = ListenerConfig(
            port=0,
            token=TOKEN,
            max_connections=8,
            max_remote_connections=4,
            max_peer_connections=3,
        )
        listener = AlertListener(config, lambda a, peer, t: received.append((a, peer)))
        await listener.start([host_ip, "127.0.0.1"])
        port = listener.addresses[0][1]
        # 20 idle connections from the other namespace, held open for 30 s
        code = (
            "import socket,sys,time; c=[socket.create_connection((sys.argv[2], int(sys.argv[1])))"
            " for _ in range(20)]; print('open', flush=True); time.sleep(30)"
        )
        proc = await in_namespace(
            namespace,
            sys.executable,
            "-c",
            code,
            str(port),
            host_ip,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"open\n"
            await until(lambda: listener.stats.rejected_connections >= 17)
            assert listener.active == 3  # the per-peer cap
            # loopback senders still get in, even when filling every slot
            held = [await send(port, b"", close=False) for _ in range(8)]
            await send(port, b"FOUND PROBLEM IN /app/local.py:1\n")
            await until(lambda: received)
            assert received[-1][0].pathname == "/app/local.py"
            for _, writer in held:
                writer.close()
        finally:
            proc.kill()
            await proc.wait()
        await listener.stop()

    run(scenario())


def test_send_to_a_host_off_this_machine_keeps_file_line_and_token(peer_namespace, monkeypatch):
    from tests.support.processes import LOGTRAY

    namespace, host_ip, peer_ip = peer_namespace
    monkeypatch.setenv("LOGTRAY_LISTENER_TOKEN", TOKEN)

    async def scenario():
        received = []
        config = ListenerConfig(port=0, token=TOKEN)
        listener = AlertListener(config, lambda a, peer, t: received.append((a, peer)))
        await listener.start([host_ip])
        port = listener.addresses[0][1]
        proc = await in_namespace(
            namespace,
            LOGTRAY,
            "send",
            "--host",
            host_ip,
            "--port",
            str(port),
            "FOUND PROBLEM IN /app/real2.py:3",
        )
        assert await proc.wait() == 0
        await until(lambda: received)
        [(alert, peer)] = received
        assert (alert.pathname, alert.lineno, peer) == ("/app/real2.py", 3, peer_ip)
        assert alert.headline() == "Problem in real2.py:3"
        await listener.stop()

    run(scenario())


def test_send_line_forms():
    from logtray.tray.commands.send import build_line

    assert build_line("FOUND PROBLEM IN /a.py:3", None, "t") == b"FOUND PROBLEM IN /a.py:3\n"
    remote = json.loads(build_line("FOUND PROBLEM IN /a.py:3", None, "t", remote=True))
    assert remote == {"pathname": "/a.py", "lineno": 3, "token": "t"}
    assert json.loads(build_line("disk full", None, "t", remote=True)) == {
        "message": "disk full",
        "token": "t",
    }


def test_unfinished_lines_share_a_memory_budget_oldest_closed_first(monkeypatch):
    from logtray.tray.alerts import listener as listener_module

    monkeypatch.setattr(listener_module, "MAX_BUFFERED_BYTES", 2500)

    async def scenario():
        listener, received, port = await started()
        first = await send(port, b"a" * 1000, close=False)
        await until(lambda: listener.buffered == 1000)
        second = await send(port, b"b" * 1000, close=False)
        await until(lambda: listener.buffered == 2000)
        third = await send(port, b"c" * 1000, close=False)  # noqa: F841 - kept open
        assert await asyncio.wait_for(first[0].read(), 3) == b""  # the oldest made room
        await until(lambda: listener.buffered == 2000)
        second[1].write(b"\n")
        await until(lambda: received and listener.buffered == 1000)
        assert received[0][0].message == "b" * 1000
        await listener.stop()

    run(scenario())
