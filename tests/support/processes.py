"""Running the real `logtray` command in tests."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

LOGTRAY = str(Path(sys.executable).with_name("logtray"))


def logtray(*args: str, env: dict[str, str] | None = None, timeout: float = 30):
    return subprocess.run(
        [LOGTRAY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
    )


def stop_process(proc: subprocess.Popen[str]) -> int:
    """Terminate `proc`, killing it if it has not exited within 10 s; its exit code."""
    proc.terminate()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Running:
    """A long-running `logtray` process whose stdout/stderr lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [LOGTRAY, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or os.environ.copy(),
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.stdout.put), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.proc.stderr, self.stderr_lines.append), daemon=True
        ).start()

    @staticmethod
    def _pump(stream, put) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            put(line)

    def wait_stderr(self, text: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stderr_lines:
                if text in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} on stderr; got: {''.join(self.stderr_lines)}")

    def json_lines(self, count: int, timeout: float = 10) -> list[dict[str, object]]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            try:
                line = self.stdout.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"{len(out)} of {count} JSON lines on stdout within {timeout} s: {out}; "
                    f"stderr: {''.join(self.stderr_lines)}"
                ) from None
            out.append(json.loads(line))
        return out

    def stop(self) -> int:
        return stop_process(self.proc)
