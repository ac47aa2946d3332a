"""The team profile, without an engine: the KAFKA_* settings it gives apache/kafka, read back
the way the image's own start turns them into server.properties; the team folder's CA,
certificate and logins (private, made once, reused); where its ports are published; and the
`[alerts_topic]` block `logtray team invite` prints, read by logtray's own config loader."""

from __future__ import annotations

import datetime
import re
import stat
import subprocess
from pathlib import Path

import pytest
import tomlkit
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from logtray.stack.compose import render
from logtray.stack.config import StackConfig
from logtray.stack.containers import port_bindings
from logtray.stack.errors import LogtrayError
from logtray.stack.specs import (
    SECRET_ENV,
    TEAM_ALERTS_TOPIC,
    TEAM_JAAS_ENV,
    TEAM_PORT,
    resolve,
    team_kafka_env,
)
from logtray.stack.team import (
    LOGINS_FILE,
    TeamMaterial,
    ensure_material,
    material_for,
    team_address,
    team_dir,
)
from logtray.tray.base.config import ListenerConfig, load_config, to_toml
from logtray.tray.base.paths import config_file
from logtray.tray.commands.team import TEAMMATE_CA
from tests.support.processes import logtray

LISTENER = ListenerConfig(port=10000, token="team-test-token")
TEAM = StackConfig(profile="team", team_host="192.0.2.10", team_port=19093)


# -- apache/kafka's mapping, as its docs state it -------------------------------------------
# docker/examples/README.md ("Using Environment Variables") and KafkaDockerWrapper's
# getServerConfigsFromEnv: every KAFKA_* variable but these becomes `key=value` in
# server.properties; the key is the name without "KAFKA_", lower case, "_" -> ".", then
# "..." -> "-" and ".." -> "_"; the value is written as it is.
NOT_SERVER_PROPERTIES = {
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME",
}  # fmt: skip


def server_properties(env: dict[str, str]) -> str:
    lines = []
    for name, value in env.items():
        if not name.startswith("KAFKA_") or name in NOT_SERVER_PROPERTIES:
            continue
        key = name.removeprefix("KAFKA_").lower().replace("_", ".")
        key = key.replace("...", "-").replace("..", "_")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def read_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load for what the team settings use: one `key=value` per line,
    with the escapes \\n and \\\\ in values (no continuation lines: a value never ends in a
    lone backslash here, asserted)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[a-z0-9._-]+", key), f"not a property line: {line[:60]!r}"
        assert not re.search(r"(?<!\\)(\\\\)*\\$", value), "a continuation line"
        out[key] = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)
    return out


@pytest.fixture
def material(tmp_path: Path) -> TeamMaterial:
    return ensure_material(tmp_path / "team", TEAM.team_host)


def test_the_kafka_settings_are_the_team_listener_in_apache_kafkas_own_names(material) -> None:
    specs = {s.name: s for s in resolve(TEAM, LISTENER, material)}
    env = dict(specs["kafka"].env)
    props = read_properties(server_properties(env))

    # The shipped listeners stay; TEAM is added, advertised at team_host:team_port, SASL_SSL.
    assert props["listeners"] == (
        "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094,TEAM://:9095"
    )
    assert props["advertised.listeners"].split(",") == [
        "PLAINTEXT://kafka:9092",
        "EXTERNAL://localhost:9094",
        "TEAM://192.0.2.10:19093",
    ]
    assert "TEAM:SASL_SSL" in props["listener.security.protocol.map"].split(",")
    assert props["inter.broker.listener.name"] == "PLAINTEXT"  # the broker's own stays plain

    # TLS: a PEM key store, the exact files of the team folder after Kafka's unescaping.
    assert props["listener.name.team.ssl.keystore.type"] == "PEM"
    chain = props["listener.name.team.ssl.keystore.certificate.chain"]
    key = props["listener.name.team.ssl.keystore.key"]
    assert chain == (material.directory / "server.pem").read_text()
    assert key == (material.directory / "server-key.pem").read_text()
    assert key.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, no key password
    assert "ssl.key.password" not in " ".join(props)
    cert = x509.load_pem_x509_certificate(chain.encode())
    private = serialization.load_pem_private_key(key.encode(), password=None)
    assert cert.public_key() == private.public_key()

    # SASL PLAIN: the logins inline in the listener's JAAS config.
    assert props["listener.name.team.sasl.enabled.mechanisms"] == "PLAIN"
    jaas = props["listener.name.team.plain.sasl.jaas.config"]
    password = material.logins["team"]
    assert jaas == (
        f'org.apache.kafka.common.security.plain.PlainLoginModule required user_team="{password}";'
    )

    # The image's configure script asks for JKS files (KAFKA_SSL_KEYSTORE_FILENAME, ...) when
    # the advertised listeners contain "SSL://", and KAFKA_OPTS when they match SASL_.*://:
    # the TEAM listener needs neither.
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    assert "SSL://" not in advertised and not re.search(r"SASL_.*://", advertised)
    # Every value is one line of server.properties.
    assert all("\n" not in value for value in env.values())

    # Riemann publishes every alert to the team's topic, through Kafka's plain in-network port.
    assert specs["riemann"].env["ALERTS_TOPIC"] == TEAM_ALERTS_TOPIC == "logtray-alerts"
    assert specs["riemann"].env["KAFKA_BOOTSTRAP"] == "kafka:9092"
    # The full stack's services.
    assert list(specs) == ["kafka", "elasticsearch", "riemann", "kibana", "demo"]


def test_the_private_key_and_logins_never_reach_the_compose_output(material) -> None:
    specs = resolve(TEAM, LISTENER, material)
    text = render("logtray", specs)
    assert material.logins["team"] not in text
    key_body = material.server_key_pem.splitlines()[1]
    assert key_body not in text
    for variable in ("LOGTRAY_TEAM_KAFKA_KEY", "LOGTRAY_TEAM_KAFKA_JAAS"):
        assert f"${{{variable}}}" in text and variable in SECRET_ENV.values()
    assert '"192.0.2.10:19093:9095/tcp"' in text and '"127.0.0.1:9094:9094/tcp"' in text


# -- where the ports are published ----------------------------------------------------------


@pytest.mark.parametrize("profile", ["full", "lite"])
def test_the_other_profiles_publish_on_loopback_only(profile) -> None:
    specs = resolve(StackConfig(profile=profile), LISTENER)
    bindings = [b for spec in specs for b in port_bindings(spec).values()]
    assert bindings and all(b[0] == "127.0.0.1" for b in bindings)
    kafka = next(s for s in specs if s.name == "kafka")
    assert TEAM_PORT not in kafka.ports and "TEAM" not in kafka.env["KAFKA_LISTENERS"]


def test_the_team_listener_is_published_on_the_team_address_only(material) -> None:
    specs = {s.name: s for s in resolve(TEAM, LISTENER, material)}
    assert port_bindings(specs["kafka"]) == {
        "9094/tcp": ("127.0.0.1", 9094),
        TEAM_PORT: ("192.0.2.10", 19093),
    }
    for name in ("elasticsearch", "kibana", "demo"):
        assert all(b[0] == "127.0.0.1" for b in port_bindings(specs[name]).values())
    # A name for teammates, published on the interface named by team_bind.
    named = StackConfig(profile="team", team_host="dev-box.example.lan", team_bind="192.0.2.10")
    kafka = resolve(named, LISTENER, material)[0]
    assert port_bindings(kafka)[TEAM_PORT] == ("192.0.2.10", 9093)
    assert "TEAM://dev-box.example.lan:9093" in kafka.env["KAFKA_ADVERTISED_LISTENERS"]
    # Every interface: only when written so.
    everywhere = StackConfig(profile="team", team_host="192.0.2.10", team_bind="0.0.0.0")
    assert port_bindings(resolve(everywhere, LISTENER, material)[0])[TEAM_PORT][0] == "0.0.0.0"


@pytest.mark.parametrize(
    ("host", "bind", "said"),
    [
        ("", "", "needs [stack] team_host"),
        ("0.0.0.0", "", "not a host name or address"),
        ("kafka.example:9093", "", "not a host name or address"),
        ("dev-box.example.lan", "", "is a name"),
        ("192.0.2.10", "eth0", "not an IP address"),
    ],
)
def test_a_team_address_that_is_not_safe_to_guess_is_refused(host, bind, said) -> None:
    stack = StackConfig(profile="team", team_host=host, team_bind=bind)
    with pytest.raises(LogtrayError, match=re.escape(said)) as caught:
        team_address(stack)
    assert caught.value.fix
    with pytest.raises(LogtrayError, match=re.escape(said)):
        resolve(stack, LISTENER)


def test_the_team_profile_without_its_material_is_refused() -> None:
    with pytest.raises(LogtrayError, match="needs its CA") as caught:
        resolve(TEAM, LISTENER)
    assert "--profile team" in (caught.value.fix or "")


# -- the team folder ------------------------------------------------------------------------


def openssl(*args: str) -> str:
    return subprocess.run(
        ["openssl", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def test_the_team_folder_is_private_made_once_and_reused(tmp_path: Path) -> None:
    folder = team_dir(tmp_path)
    first = material_for(TEAM, tmp_path)
    assert first is not None and first.directory == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["ca-key.pem", "ca.pem", LOGINS_FILE, "server-key.pem", "server.pem"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    # Reused: the same bytes, the same CA, the same password.
    second = material_for(TEAM, tmp_path)
    assert second == first
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    # The fingerprint is the CA certificate's SHA-256, as openssl says it.
    said = openssl("x509", "-in", str(first.ca_file), "-noout", "-fingerprint", "-sha256")
    assert first.ca_fingerprint == said.strip().split("=", 1)[1]
    # The server certificate chains to the CA and names the team host.
    verified = openssl(
        "verify", "-CAfile", str(first.ca_file), "-verify_ip", "192.0.2.10",
        str(folder / "server.pem"),
    )  # fmt: skip
    assert verified.strip().endswith(": OK")
    assert material_for(StackConfig(), tmp_path) is None  # other profiles make nothing


def test_another_host_gets_a_new_server_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = material_for(TEAM, tmp_path)
    moved = material_for(StackConfig(profile="team", team_host="10.1.2.3"), tmp_path)
    assert first is not None and moved is not None
    assert moved.ca_pem == first.ca_pem and moved.logins == first.logins
    assert moved.server_cert_pem != first.server_cert_pem
    cert = x509.load_pem_x509_certificate(moved.server_cert_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    # Close to its end, it is issued again.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=820)
    renewed = ensure_material(moved.directory, "10.1.2.3", now=later)
    assert renewed.server_cert_pem != moved.server_cert_pem and renewed.ca_pem == moved.ca_pem


def test_a_file_others_could_read_is_made_private_again(tmp_path: Path) -> None:
    first = material_for(TEAM, tmp_path)
    assert first is not None
    logins = first.directory / LOGINS_FILE
    logins.chmod(0o644)
    material_for(TEAM, tmp_path)
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600


def test_a_damaged_team_file_is_one_sentence(tmp_path: Path) -> None:
    first = material_for(TEAM, tmp_path)
    assert first is not None
    (first.directory / "ca.pem").write_text("not a certificate")
    with pytest.raises(LogtrayError, match=r"ca\.pem is not a readable PEM certificate") as caught:
        material_for(TEAM, tmp_path)
    assert "move" in (caught.value.fix or "")


# -- logtray team invite, on the team's host ------------------------------------------------


def write_team_config(extra: str = "") -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(
        '[stack]\nprofile = "team"\nteam_host = "192.0.2.10"\nteam_port = 19093\n' + extra
    )


def test_invite_prints_a_block_the_config_loader_takes(tmp_path: Path) -> None:
    write_team_config()
    result = logtray("team", "invite", "--user", "bob")
    assert result.returncode == 0, result.stderr
    assert "bob is a new login" in result.stderr and "logtray stack up" in result.stderr
    folder = team_dir(config_file().parent)
    material = ensure_material(folder, "192.0.2.10")
    password = material.logins["bob"]
    assert stat.S_IMODE((folder / LOGINS_FILE).stat().st_mode) == 0o600

    pasted = tomlkit.parse(result.stdout).unwrap()["alerts_topic"]
    assert pasted == {
        "enabled": True,
        "bootstrap": "192.0.2.10:19093",
        "topic": "logtray-alerts",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_username": "bob",
        "sasl_password": password,
        "ssl_cafile": TEAMMATE_CA,
    }
    assert f"({folder / 'ca.pem'})" in result.stdout
    assert f"Its SHA-256 fingerprint: {material.ca_fingerprint}" in result.stdout

    # The teammate pastes it (comments and all): logtray's own loader takes every key.
    mine = tmp_path / "teammate.toml"
    mine.write_text(result.stdout)
    topic = load_config(path=mine, environ={}).alerts_topic
    assert (topic.enabled, topic.bootstrap, topic.security_protocol) == (
        True,
        "192.0.2.10:19093",
        "SASL_SSL",
    )
    assert (topic.sasl_mechanism, topic.sasl_username, topic.sasl_password) == (
        "PLAIN",
        "bob",
        password,
    )
    # ... and `config show` there never prints the password.
    assert password not in to_toml(load_config(path=mine, environ={}))

    # Asked again: the same login, nothing new for Kafka to learn.
    again = logtray("team", "invite", "--user", "bob")
    assert again.returncode == 0 and "new login" not in again.stderr
    assert tomlkit.parse(again.stdout).unwrap()["alerts_topic"]["sasl_password"] == password
    # Kafka's next start knows bob (and still the first login).
    jaas = team_kafka_env(material, team_address(load_config().stack))[TEAM_JAAS_ENV]
    assert f'user_bob="{password}"' in jaas and 'user_team="' in jaas


def test_invite_without_a_team_host_is_one_sentence() -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text('[stack]\nprofile = "team"\n')
    result = logtray("team", "invite")
    assert result.returncode == 1 and "needs [stack] team_host" in result.stderr
    assert "Traceback" not in result.stderr


def test_invite_refuses_a_login_name_kafka_cannot_hold() -> None:
    write_team_config()
    result = logtray("team", "invite", "--user", 'bob" user_admin="x')
    assert result.returncode == 1 and "cannot be a Kafka login" in result.stderr


def test_a_riemann_topic_override_is_what_the_invite_names() -> None:
    write_team_config('[stack.services.riemann]\nenv = { ALERTS_TOPIC = "shop-alerts" }\n')
    result = logtray("team", "invite")
    assert result.returncode == 0, result.stderr
    assert tomlkit.parse(result.stdout).unwrap()["alerts_topic"]["topic"] == "shop-alerts"


def test_doctor_names_the_team_address_and_the_cas_fingerprint() -> None:
    from logtray.tray.commands.doctor import check_team_stack

    assert check_team_stack(load_config()) == []  # other profiles: no line
    write_team_config()
    [check] = check_team_stack(load_config())
    material = ensure_material(team_dir(config_file().parent), "192.0.2.10")
    assert check.ok and "teammates reach Kafka at 192.0.2.10:19093" in check.detail
    assert f"SHA-256 fingerprint {material.ca_fingerprint}" in check.detail
    config_file().write_text('[stack]\nprofile = "team"\nteam_host = "dev-box.example.lan"\n')
    [check] = check_team_stack(load_config())
    assert not check.ok and "is a name" in check.detail and "team_bind" in check.fix
