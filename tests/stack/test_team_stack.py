"""`logtray stack up --profile team` on the engine, with the Kafka stand-in, end to end.

The team listener is published on the configured address only (127.0.0.2 here, an address of
this machine's loopback that the other profiles never use), the default ports stay on
127.0.0.1, and `stack up` shows the CA's fingerprint. tansu speaks neither TLS nor SASL, so a
real TLS endpoint — Debian's stunnel4 on the team address, with the server certificate and key
`stack up` generated — stands in front of the published port, as apache/kafka's TEAM listener
would: a teammate's tray, configured from `logtray team invite`'s block, produces and reads
through it with aiokafka, verifying the generated CA and the host name. No broker here
enforces SASL PLAIN (tansu answers that it does not offer it): the test checks that the login
reaches aiokafka and its SASL step inside TLS, and never the output of `config show`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import tomlkit

from logtray.stack.labels import stack_filter
from logtray.tray.alerts.kafka_source import security_options
from logtray.tray.base.config import load_config, to_toml
from tests.conftest import need
from tests.pipeline.kafka_util import produce, read_topic
from tests.stack.standins import DEMO_STANDIN_IMAGE, KAFKA_HEALTHCHECK, TANSU_IMAGE
from tests.stack.test_cli_docker import run

pytestmark = pytest.mark.docker

TEAM_HOST = "127.0.0.2"


def free_port_on(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def team_config(name: str, team_port: int, published: int) -> str:
    """The team profile of the stand-ins: Kafka (its TEAM port published on `published`,
    advertised as team_port, where the TLS endpoint listens) and the demo; the rest off."""
    return f"""
[listener]
token = "team-cli-test-token"

[stack]
profile = "team"
name = "{name}"
pull = false
ready_timeout_s = 60
team_host = "{TEAM_HOST}"
team_port = {team_port}

[stack.services.kafka]
image = "{TANSU_IMAGE}"
ports = {{ "9094" = 0, "9095" = {published} }}
healthcheck = {list(KAFKA_HEALTHCHECK)!r}
healthcheck_interval_s = 0.25
mem_limit = "128m"

[stack.services.demo]
image = "{DEMO_STANDIN_IMAGE}"
ports = {{ "8089" = 0 }}

[stack.services.elasticsearch]
enabled = false
[stack.services.riemann]
enabled = false
[stack.services.kibana]
enabled = false
"""


class Stunnel:
    """stunnel4 accepting TLS on TEAM_HOST:accept with the team's generated certificate."""

    def __init__(self, folder: Path, team: Path, accept: int, connect: int) -> None:
        binary = shutil.which("stunnel4") or shutil.which("stunnel")
        need(binary is not None, "stunnel4 is not installed (apt install stunnel4)")
        assert binary is not None
        self.log = folder / "stunnel.log"
        conf = folder / "stunnel.conf"
        conf.write_text(
            "\n".join(
                [
                    "foreground = yes",
                    "pid =",
                    f"output = {self.log}",
                    "debug = 5",
                    "[team]",
                    f"accept = {TEAM_HOST}:{accept}",
                    f"connect = {TEAM_HOST}:{connect}",
                    f"cert = {team / 'server.pem'}",
                    f"key = {team / 'server-key.pem'}",
                ]
            )
            + "\n"
        )
        self.accept = accept
        self.proc = subprocess.Popen(
            [binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_listening(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((TEAM_HOST, self.accept), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    log = self.log.read_text() if self.log.exists() else ""
                    raise AssertionError(f"stunnel did not listen: {log}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def host_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "host"
    folder.mkdir()
    yield folder


def test_the_team_profile_end_to_end_through_a_tls_endpoint(
    on_engine: docker.DockerClient, engine_stack_name: str, host_dir: Path, tmp_path: Path
) -> None:
    docker_client, stack_name = on_engine, engine_stack_name
    team_port, published = free_port_on(TEAM_HOST), free_port_on(TEAM_HOST)
    (host_dir / "config.toml").write_text(team_config(stack_name, team_port, published))
    stunnel: Stunnel | None = None
    try:
        up = run(host_dir, "stack", "up")
        assert up.returncode == 0, up.stderr + up.stdout
        team = host_dir / "team"
        fingerprint = subprocess.run(
            ["openssl", "x509", "-in", str(team / "ca.pem"), "-noout", "-fingerprint", "-sha256"],
            check=True, capture_output=True, text=True,
        ).stdout.strip().split("=", 1)[1]  # fmt: skip
        assert f"SHA-256 fingerprint {fingerprint}" in up.stdout, up.stdout
        assert f"teammates reach Kafka at {TEAM_HOST}:{team_port}" in up.stdout

        # Published where configured, and only there; the default ports stay on loopback.
        kafka = docker_client.containers.get(f"{stack_name}-kafka")
        ports = kafka.attrs["HostConfig"]["PortBindings"]
        assert ports["9095/tcp"] == [{"HostIp": TEAM_HOST, "HostPort": str(published)}]
        assert ports["9094/tcp"][0]["HostIp"] == "127.0.0.1"
        demo = docker_client.containers.get(f"{stack_name}-demo")
        assert all(
            b["HostIp"] == "127.0.0.1"
            for bindings in demo.attrs["HostConfig"]["PortBindings"].values()
            for b in bindings
        )
        status = run(host_dir, "stack", "status")
        assert status.returncode == 0 and fingerprint in status.stdout, status.stderr

        # A teammate's block, pasted into their config, with the CA file they were sent.
        invite = run(host_dir, "team", "invite", "--user", "alice")
        assert invite.returncode == 0, invite.stderr
        block = tomlkit.parse(invite.stdout).unwrap()["alerts_topic"]
        assert block["bootstrap"] == f"{TEAM_HOST}:{team_port}"
        teammate_ca = tmp_path / "teammate-ca.pem"
        shutil.copy(team / "ca.pem", teammate_ca)
        block["ssl_cafile"] = str(teammate_ca)
        mine = tmp_path / "teammate.toml"
        mine.write_text(tomlkit.dumps({"alerts_topic": block}))
        topic = load_config(path=mine, environ={}).alerts_topic
        options = security_options(topic)
        # The login reaches aiokafka as its own options; `config show` never prints it.
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "PLAIN"
        assert options["sasl_plain_username"] == "alice"
        assert options["sasl_plain_password"] == block["sasl_password"]
        assert block["sasl_password"] not in to_toml(load_config(path=mine, environ={}))

        # The real TLS handshake: the generated server certificate, verified against the
        # generated CA for the host in the invite's bootstrap. tansu has no SASL PLAIN here,
        # so the bytes inside TLS are plain Kafka (security_protocol SSL, same TLS context).
        stunnel = Stunnel(tmp_path, team, accept=team_port, connect=published)
        stunnel.wait_listening()
        tls = {"security_protocol": "SSL", "ssl_context": options["ssl_context"]}
        asyncio.run(produce(topic.bootstrap, "logtray-alerts", [b'{"pathname": "a.py"}'], **tls))
        got = read_topic(topic.bootstrap, "logtray-alerts", 1, **tls)
        assert got == [b'{"pathname": "a.py"}']
        # stunnel carried those bytes inside TLS.
        assert re.search(r"[1-9][0-9]* byte\(s\) sent to TLS", stunnel.log.read_text())
        # With the teammate's own options aiokafka gets through TLS to the PLAIN login, which
        # this broker does not run (apache/kafka's TEAM listener does): said as such.
        from logtray.tray.alerts.kafka_diagnosis import probe

        login = asyncio.run(probe(topic.bootstrap, options))
        assert login is not None and login.sentence == "it does not offer SASL PLAIN there"
        # A tray that does not trust the team's CA is refused at the handshake.

        other = load_config(
            {"alerts_topic": {"security_protocol": "SSL", "ssl_cafile": ""}}
        ).alerts_topic
        problem = asyncio.run(probe(topic.bootstrap, security_options(other)))
        assert problem is not None and "not signed by a CA" in problem.sentence

        # The logins and the key are said nowhere: not by up, status or compose, not in the log.
        compose = run(host_dir, "stack", "compose")
        logs = [p.read_text() for p in (host_dir / "state").rglob("*.log")]
        said = "".join([up.stdout, up.stderr, status.stdout, invite.stderr, compose.stdout, *logs])
        logins = json.loads((team / "logins.json").read_text())["logins"]
        key_line = (team / "server-key.pem").read_text().splitlines()[1]
        assert set(logins) == {"team", "alice"}
        assert not [secret for secret in [*logins.values(), key_line] if secret in said]

        down = run(host_dir, "stack", "down", "--volumes")
        assert down.returncode == 0, down.stderr
    finally:
        if stunnel is not None:
            stunnel.stop()
    assert docker_client.containers.list(all=True, filters=stack_filter(stack_name)) == []


def test_a_team_address_this_machine_does_not_have_is_one_sentence(
    on_engine: docker.DockerClient, engine_stack_name: str, tmp_path: Path
) -> None:
    from logtray.stack.config import ServiceOverride, StackConfig
    from logtray.stack.manager import StackError, StackManager
    from logtray.stack.specs import resolve
    from logtray.stack.team import material_for
    from logtray.tray.base.config import ListenerConfig
    from tests.stack.standins import standin_services

    services = {
        "kafka": standin_services()["kafka"],
        **{name: ServiceOverride(enabled=False) for name in ("elasticsearch", "riemann", "kibana")},
        "demo": ServiceOverride(enabled=False),
    }
    # 192.0.2.0/24 is for documentation (RFC 5737): no interface here has it.
    stack = StackConfig(
        profile="team", team_host="192.0.2.123", services=services, name=engine_stack_name
    )
    specs = resolve(stack, ListenerConfig(), material_for(stack, tmp_path))
    manager = StackManager(on_engine, engine_stack_name, specs, pull=False, ready_timeout_s=60)
    try:
        with pytest.raises(StackError) as caught:
            manager.up()
        assert caught.value.message == (
            "kafka cannot publish on 192.0.2.123: no interface of this machine has it"
        ), caught.value.message
        assert "team_bind" in (caught.value.fix or "")
    finally:
        manager.down(volumes=True)
    assert on_engine.containers.list(all=True, filters=stack_filter(engine_stack_name)) == []
