"""Real non-loopback peers for tests and benches: a network namespace of our own with a veth
pair, many addresses in it, and the scripts that squat slots or send alerts from inside."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

from tests.conftest import need


@contextlib.contextmanager
def namespace_with_peers(peers: int) -> Iterator[tuple[str, str, list[str]]]:
    """A network namespace of our own with a veth pair: real non-loopback peers, `peers`
    addresses of them (host .1, peers .2, .3, ... of a /24)."""
    need(os.geteuid() == 0 and shutil.which("ip") is not None, "needs root and iproute2 for netns")
    name = f"lt-{uuid.uuid4().hex[:6]}"
    # Our own addresses inside our own namespace (192.0.2.0/24 is filtered on these machines).
    net = f"10.203.{int(name[3:5], 16)}"
    host_if, ns_if = f"{name}-h", f"{name}-n"
    cmds = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", name],
        ["ip", "addr", "add", f"{net}.1/24", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        *(
            ["ip", "-n", name, "addr", "add", f"{net}.{2 + i}/24", "dev", ns_if]
            for i in range(peers)
        ),
        ["ip", "-n", name, "link", "set", ns_if, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        for cmd in cmds:
            subprocess.run(cmd, check=True, capture_output=True)
        yield name, f"{net}.1", [f"{net}.{2 + i}" for i in range(peers)]
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


async def in_namespace(namespace: str, *command: str, **pipes: Any) -> asyncio.subprocess.Process:
    """`command` run inside the peer namespace: a sender with a real non-loopback address."""
    return await asyncio.create_subprocess_exec("ip", "netns", "exec", namespace, *command, **pipes)


# Inside the namespace: `per` connections from each source address that sends nothing,
# reconnecting whenever the listener closes one, until killed.
SQUATTER = """
import select, socket, sys, time
port, host, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sources = sys.argv[4:]
def one(src):
    s = socket.socket(); s.bind((src, 0)); s.settimeout(2)
    try:
        s.connect((host, port))
    except OSError:
        pass
    return s
socks = {one(src): src for src in sources for _ in range(per)}
print("open", flush=True)
while True:
    ready, _, _ = select.select(list(socks), [], [], 0.05)
    for s in ready:
        try:
            gone = s.recv(4096) == b""
        except OSError:
            gone = True
        if gone:
            src = socks.pop(s); s.close(); socks[one(src)] = src
"""

# Inside the namespace: `n` alerts with the token, each on a new connection, asking for the
# listener's answer; prints the seconds from connect to the answer, and the answer (or the
# error: after `wait` seconds (default 10) without an answer, a TimeoutError).
SENDER = """
import json, socket, sys, time
port, host, src, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
n = int(sys.argv[5])
wait = float(sys.argv[6]) if len(sys.argv) > 6 else 10.0
for i in range(n):
    t0 = time.monotonic()
    s = socket.socket(); s.bind((src, 0)); s.settimeout(wait)
    try:
        s.connect((host, port))
        line = {"pathname": f"/app/real{i}.py", "count": 40, "token": token, "ack": True}
        s.sendall(json.dumps(line).encode() + b"\\n")
        reply = s.makefile().readline().strip()
    except OSError as exc:
        reply = repr(exc)
    print(json.dumps([time.monotonic() - t0, reply]), flush=True)
    s.close()
    time.sleep(0.2)
"""
