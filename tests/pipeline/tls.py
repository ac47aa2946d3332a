"""A real TLS endpoint in front of the test broker: Debian's stunnel4, with certificates made
by openssl for each case a user can meet (a good one, another host's, an expired one, and a CA
the client does not know). Nothing leaves 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, need


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Pki:
    ca: Path  # the team's CA certificate (what ssl_cafile names)
    other_ca: Path  # a CA that signed nothing here
    certs: dict[str, tuple[Path, Path]]  # case -> (certificate, key), signed by `ca`


def make_pki(folder: Path) -> Pki:
    """The team's CA and its server certificates: good (127.0.0.1, localhost), wrong-host
    (kafka.other.example only), expired (ended yesterday)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem"),
            "-subj", f"/CN=logtray test {name}",
        )  # fmt: skip
    cases = {
        "good": ("subjectAltName=IP:127.0.0.1,DNS:localhost", "30"),
        "wrong-host": ("subjectAltName=DNS:kafka.other.example", "30"),
        "expired": ("subjectAltName=IP:127.0.0.1,DNS:localhost", "-1"),
    }
    certs = {}
    for case, (san, days) in cases.items():
        key, csr, pem, ext = (
            folder / f"{case}{suffix}" for suffix in (".key", ".csr", ".pem", ".ext")
        )
        ext.write_text(san + "\n")
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=logtray test broker",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(folder / "ca.pem"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(pem),
            "-days", days, "-extfile", str(ext),
        )  # fmt: skip
        certs[case] = (pem, key)
    # A desktop's client certificate, signed by the team's CA.
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "client.key"),
        "-out", str(folder / "client.csr"), "-subj", "/CN=alice",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(folder / "client.csr"), "-CA", str(folder / "ca.pem"),
        "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(folder / "client.pem"),
        "-days", "30",
    )  # fmt: skip
    return Pki(folder / "ca.pem", folder / "other-ca.pem", certs)


class Stunnel:
    """stunnel4 accepting TLS on one port per case, forwarding to the broker's plain port."""

    def __init__(self, pki: Pki, connect_port: int, folder: Path) -> None:
        binary = shutil.which("stunnel4") or shutil.which("stunnel")
        need(binary is not None, "stunnel4 is not installed (apt install stunnel4)")
        assert binary is not None
        self.binary = binary
        self.ports = {case: free_port() for case in pki.certs}
        self.config = folder / "stunnel.conf"
        self.log = folder / "stunnel.log"
        lines = ["foreground = yes", "pid =", f"output = {self.log}", "debug = 5"]
        for case, (pem, key) in pki.certs.items():
            lines += [
                f"[{case}]",
                f"accept = 127.0.0.1:{self.ports[case]}",
                f"connect = 127.0.0.1:{connect_port}",
                f"cert = {pem}",
                f"key = {key}",
            ]
        # The good certificate, and a client certificate signed by the team's CA required.
        self.ports["client-cert"] = free_port()
        pem, key = pki.certs["good"]
        lines += [
            "[client-cert]",
            f"accept = 127.0.0.1:{self.ports['client-cert']}",
            f"connect = 127.0.0.1:{connect_port}",
            f"cert = {pem}",
            f"key = {key}",
            "requireCert = yes",
            "verifyChain = yes",
            f"CAfile = {pki.ca}",
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def bootstrap(self, case: str) -> str:
        return f"127.0.0.1:{self.ports[case]}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        for port in self.ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        log = self.log.read_text() if self.log.exists() else ""
                        raise AssertionError(f"stunnel did not listen on {port}: {log}") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
