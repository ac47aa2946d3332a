"""Soak: every hostile flood of issue 8 against a real `logtray listen`, then a real alert.

Bounded (about 40 s): random bytes, oversize lines, unique 60 KB lines, deep JSON, bad times,
bad urls and a storm of new sources, each for a few seconds, with slow tricklers and 1,000
idle connections. Afterwards the process is alive, a named alert is visible within 1 s, its
memory grew by less than 50 MB and nothing it wrote to stderr is a traceback.
"""

import asyncio
import os

from tests.conftest import free_port
from tests.support import hostile

FLOOD_S = 3.0


def test_soak_hostile_floods_then_a_named_alert_is_visible_within_a_second():
    hostile.raise_fd_limit()
    port = free_port()
    env = {**os.environ, "LOGTRAY_LISTENER_LINE_TIMEOUT_S": "2"}
    listen = hostile.Listen(port, env)
    try:
        listen.wait_ready()

        async def scenario():
            # warm up (imports, first notices), then the baseline
            since = await hostile.send_named(port, "/app/calm.py")
            assert listen.wait_notice(hostile.names("calm.py"), since, 10) is not None
            baseline = listen.rss_mb()
            slow = asyncio.ensure_future(hostile.slowloris(port, 20, 8))
            for make in hostile.FLOODS.values():
                await hostile.for_a_while(FLOOD_S, port, make)
                assert listen.proc.poll() is None
            closed_slow = await slow
            idle = await hostile.idle_connections(port, 1000)
            since = await hostile.send_named(port, "/app/real.py")
            seen = await asyncio.to_thread(listen.wait_notice, hostile.names("real.py"), since, 5)
            for writer in idle:
                writer.close()
            return baseline, closed_slow, seen

        baseline, closed_slow, seen = asyncio.run(asyncio.wait_for(scenario(), 120))
        grown = listen.rss_mb() - baseline
        print(f"soak: named alert visible after {seen} s; RSS {baseline:.0f} + {grown:.1f} MB")
        assert listen.proc.poll() is None, "the listener died"
        assert seen is not None and seen < 1.0, f"named alert visible after {seen} s"
        assert closed_slow == 20, "slow tricklers must be cut off at the line timeout"
        assert grown < 50, f"RSS grew by {grown:.0f} MB"
    finally:
        code = listen.stop()
    stderr = "".join(listen.stderr)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code == 0, stderr[-3000:]


def test_a_real_alert_inside_a_flood_of_new_sources_is_shown_at_once_and_kept(tmp_path):
    # As fast as 8 connections can send: a new /app/f_<n>.py with every line, and 2 s in the
    # real alert. It pops within a second, and the flood does not evict it from the history.
    port = free_port()
    env = {**os.environ, "LOGTRAY_ALERTS_HISTORY_SIZE": "200"}
    listen = hostile.Listen(port, env)
    try:
        listen.wait_ready()

        def flood(n):
            return b'{"pathname": "/app/f_%d.py", "count": 30}\n' % n

        since, sent = asyncio.run(hostile.during(5.0, port, flood, "/app/REAL.py", after=2.0))
        seen = listen.wait_notice(hostile.names("REAL.py"), since, 5)
        print(f"flood: {sent} new sources in 5 s; the real alert visible after {seen} s")
        assert seen is not None and seen < 1.0, f"real alert visible after {seen} s"
        assert sent > 200  # more than the history holds
    finally:
        assert listen.stop() == 0
    entries = hostile.history(env)
    assert any(e.get("pathname") == "/app/REAL.py" for e in entries)
    assert sum(1 for e in entries if e.get("flood") == "/app/f_#.py") <= 100
