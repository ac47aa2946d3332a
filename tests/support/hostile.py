"""Hostile and junk senders for the soak test and bench/hostile.py.

Every flood is a real TCP client on loopback against a real `logtray listen` process (console
notifier: one JSON line per shown notification on stdout, read here with its arrival time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.processes import stop_process

LOGTRAY = str(Path(sys.executable).with_name("logtray"))


def raise_fd_limit(wanted: int = 4096) -> None:
    """1,000 idle connections need more than the common soft limit of 1024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@dataclass
class Listen:
    """`logtray listen --notifier console` in a subprocess, its notices timestamped."""

    port: int
    env: dict[str, str]
    hosts: tuple[str, ...] = ("127.0.0.1",)
    proc: subprocess.Popen[str] = field(init=False)
    notices: list[tuple[float, dict[str, object]]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        command = [LOGTRAY, "listen", "--notifier", "console", "--port", str(self.port)]
        hosts = [arg for host in self.hosts for arg in ("--host", host)]
        self.proc = subprocess.Popen(
            [*command, *hosts],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.ps = psutil.Process(self.proc.pid)

    def _read_stdout(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.notices.append((time.monotonic(), json.loads(line)))

    def _read_stderr(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("listening on" in line for line in self.stderr):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"listener did not start: {''.join(self.stderr)}")

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> int:
        return stop_process(self.proc)

    def wait_notice(
        self, match: Callable[[dict[str, object]], bool], since: float, timeout: float
    ) -> float | None:
        """Seconds from `since` (monotonic) to the first matching notice, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for at, notice in list(self.notices):
                if at >= since and match(notice):
                    return at - since
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)


def names(path_tail: str) -> Callable[[dict[str, object]], bool]:
    """A notice that names the source in its title or the first line of its body."""

    def match(notice: dict[str, object]) -> bool:
        first_line = str(notice.get("body", "")).split("\n", 1)[0]
        return path_tail in str(notice.get("title", "")) or path_tail in first_line

    return match


def popup_of(pathname: str) -> Callable[[dict[str, object]], bool]:
    """The source's own notice (not a storm summary that names it)."""

    def match(notice: dict[str, object]) -> bool:
        return notice.get("key") == pathname

    return match


# -- senders ----------------------------------------------------------------------------------
async def _client(port: int, payload: bytes) -> None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        writer.write(payload)
        await writer.drain()
    except OSError:
        pass  # closed by the listener (evicted, timed out): that is its right
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def streaming(
    seconds: float, port: int, make: Callable[[int], bytes], connections: int = 2, batch: int = 100
) -> int:
    """`connections` connections held open, each writing `batch` of make(n) at a time as fast as
    the listener takes them (no connection flood), for `seconds`; returns the lines sent."""
    deadline = time.monotonic() + seconds
    sent = 0

    async def one(offset: int) -> None:
        nonlocal sent
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        n = offset
        try:
            while time.monotonic() < deadline:
                writer.write(b"".join(make(n + i * connections) for i in range(batch)))
                await writer.drain()
                n += batch * connections
                sent += batch
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(connections)))
    return sent


async def for_a_while(
    seconds: float, port: int, make: Callable[[int], bytes], clients: int = 8
) -> int:
    """`clients` connections at a time, each sending make(n) and closing, for `seconds`."""
    deadline = time.monotonic() + seconds
    sent = 0

    async def worker(offset: int) -> None:
        nonlocal sent
        n = offset
        while time.monotonic() < deadline:
            await _client(port, make(n))
            n += clients
            sent += 1

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return sent


def random_bytes(n: int) -> bytes:
    return b"".join(os.urandom(200).replace(b"\n", b" ") + b"\n" for _ in range(30))


def oversize(n: int) -> bytes:
    return os.urandom(8).hex().encode() * 10_000 + b"\n"  # 160 KB, over max_line_bytes


def unique_60k_text(n: int) -> bytes:
    return f"{n} ".encode() + os.urandom(22_500).hex().encode()[:60_000] + b"\n"


def deep_json(n: int) -> bytes:
    return b'{"pathname": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"


def bad_times(n: int) -> bytes:
    times = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", 1e300, -1, "soon"]
    return b"".join(
        json.dumps({"pathname": f"/app/t{n}_{i}.py", "time": t, "count": 30}).encode() + b"\n"
        for i, t in enumerate(times)
    )


def bad_urls(n: int) -> bytes:
    urls = ["file:///etc/passwd", "--gpu-launcher=xcalc --", "javascript:alert(1)", "ssh://x"]
    return b"".join(
        json.dumps({"pathname": f"/app/u{n % 50}.py", "url": u}).encode() + b"\n" for u in urls
    )


def new_sources(n: int) -> bytes:
    return json.dumps({"pathname": f"/app/storm/s{n}.py", "count": 30}).encode() + b"\n"


def look_alike_line(n: int) -> bytes:
    """One line of a new look-alike source (/app/f_<n>.py), for `streaming`."""
    return b'{"pathname": "/app/f_%d.py", "count": 30}\n' % n


def look_alike_sources(n: int) -> bytes:
    """A new file name with every line, all alike but for a number (/app/f_<n>.py)."""
    return b"".join(
        json.dumps({"pathname": f"/app/f_{n}_{i}.py", "count": 30}).encode() + b"\n"
        for i in range(20)
    )


MARKUP = "<b>bold</b> <a href='http://evil.example/'>click</a> <img src='/x.png'/>"
ACTING = "\u202e\x1b[2J\x07"  # a bidi override, a terminal escape, a bell


def markup_and_controls(n: int) -> bytes:
    return (
        json.dumps(
            {
                "pathname": f"/app/mk{n}\u202egnp.py",
                "title": f"{ACTING}{n}",
                "message": MARKUP + ACTING,
            }
        ).encode()
        + b"\n"
    )


SEPARATORS = "a\u2028b\u2029c\x85d\x1ce"


def line_separators(n: int) -> bytes:
    return json.dumps({"pathname": f"/app/sep{n}.py", "message": SEPARATORS}).encode() + b"\n"


def history(env: dict[str, str], count: int = 5000) -> list[dict[str, object]]:
    """What `logtray alerts --json` lists (newest first) with the listener's environment."""
    result = subprocess.run(
        [LOGTRAY, "alerts", "--json", "-n", str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


async def during(
    seconds: float, port: int, make: Callable[[int], bytes], path: str, after: float
) -> tuple[float, int]:
    """`make`'s flood for `seconds`, and `after` seconds into it the named alert `path`:
    (its send time, the flood's connections)."""
    flood = asyncio.ensure_future(for_a_while(seconds, port, make))
    await asyncio.sleep(after)
    since = await send_named(port, path)
    return since, await flood


async def slowloris(port: int, connections: int, seconds: float) -> int:
    """Connections that trickle a byte every 0.2 s and never finish a line; returns how many
    were closed by the listener before `seconds` ran out."""
    closed = 0

    async def one() -> None:
        nonlocal closed
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                writer.write(b"x")
                await writer.drain()
                with contextlib.suppress(asyncio.TimeoutError):
                    if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                        closed += 1
                        return
        except OSError:
            closed += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return closed


async def idle_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            writers.append((await asyncio.open_connection("127.0.0.1", port))[1])
    return writers


async def send_named(port: int, path: str) -> float:
    """The original form, as `logtray send` sends it to loopback; returns the send time."""
    at = time.monotonic()
    await _client(port, f"FOUND PROBLEM IN {path}:3\n".encode())
    return at


FLOODS: dict[str, Callable[[int], bytes]] = {
    "random bytes": random_bytes,
    "oversize lines": oversize,
    "unique 60 KB lines": unique_60k_text,
    "deep JSON": deep_json,
    "bad times": bad_times,
    "bad urls": bad_urls,
    "new sources": new_sources,
    "look-alike sources": look_alike_sources,
    "markup and controls": markup_and_controls,
    "line separators": line_separators,
}
