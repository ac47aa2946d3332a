"""[engine]'s publishing and connection keys, [alerts_topic]'s, and their secrets kept out of
`config show` and of what aiokafka is not meant to see."""

from __future__ import annotations

import ssl

import pytest

from logtray.tray.alerts.kafka_source import security_options
from logtray.tray.base.config import ConfigError, load_config, to_toml
from logtray.tray.base.paths import config_file
from logtray.tray.commands.cli import build_parser
from logtray.tray.commands.engine import flags_from
from tests.support.processes import logtray


def test_engine_takes_the_alerts_topic_connection_keys() -> None:
    config = load_config(
        environ={
            "LOGTRAY_ENGINE_PUBLISH": "true",
            "LOGTRAY_ENGINE_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "LOGTRAY_ENGINE_SASL_MECHANISM": "SCRAM-SHA-512",
            "LOGTRAY_ENGINE_SASL_USERNAME": "ci-engine",
            "LOGTRAY_ENGINE_SASL_PASSWORD": "pw-123",
        }
    )
    engine = config.engine
    assert engine.publish and engine.security_protocol == "SASL_PLAINTEXT"
    # The settings reach aiokafka as its own option names.
    assert security_options(engine) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ci-engine",
        "sasl_plain_password": "pw-123",
    }
    plain = security_options(load_config().alerts_topic)
    assert plain == {"security_protocol": "PLAINTEXT"}


def test_ssl_options_verify_the_server_and_its_name() -> None:
    options = security_options(load_config({"engine": {"security_protocol": "SSL"}}).engine)
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "sasl_plain_password" not in options


@pytest.mark.parametrize(
    ("key", "value"),
    [("security_protocol", "TLS"), ("sasl_mechanism", "SCRAM-SHA-1"), ("publish", "maybe")],
)
def test_a_bad_connection_value_is_one_sentence(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={f"LOGTRAY_ENGINE_{key.upper()}": value})
    assert f"[engine] {key}" in str(caught.value)


def test_config_show_hides_every_sasl_password() -> None:
    config = load_config(
        {
            "engine": {"sasl_password": "engine-secret"},
            "alerts_topic": {"sasl_password": "topic-secret"},
        }
    )
    shown = to_toml(config)
    assert "engine-secret" not in shown and "topic-secret" not in shown
    assert shown.count("<hidden: see the config file>") == 2
    config_file().parent.mkdir(parents=True)
    config_file().write_text('[alerts_topic]\nsasl_password = "file-secret"\n')
    assert "file-secret" not in logtray("config", "show").stdout


def test_engine_publish_flag() -> None:
    args = build_parser().parse_args(["engine", "--publish"])
    assert flags_from(args)["engine"] == {"publish": True}
    assert "engine" not in flags_from(build_parser().parse_args(["engine"]))


def test_a_ca_file_that_cannot_be_read_is_one_sentence(tmp_path) -> None:
    from logtray.tray.base.errors import LogtrayError
    from logtray.tray.commands.doctor import check_team_kafka

    for cafile, why in ((tmp_path / "missing.pem", "No such file"), (tmp_path, "")):
        config = load_config(
            {
                "alerts_topic": {
                    "enabled": True,
                    "security_protocol": "SSL",
                    "ssl_cafile": str(cafile),
                }
            }
        )
        with pytest.raises(LogtrayError) as caught:
            security_options(config.alerts_topic)
        assert caught.value.message.startswith(f"cannot use the CA certificate {cafile}")
        assert why in caught.value.message and "ssl_cafile" in (caught.value.fix or "")
        [check] = check_team_kafka(config)
        assert not check.ok and check.detail == caught.value.message
    bad = tmp_path / "not-a-cert.pem"
    bad.write_text("hello\n")
    with pytest.raises(LogtrayError, match="cannot use the CA certificate"):
        security_options(
            load_config({"engine": {"security_protocol": "SSL", "ssl_cafile": str(bad)}}).engine
        )


def test_the_service_refuses_to_start_on_a_ca_file_it_cannot_read(tmp_path) -> None:
    import asyncio
    import io

    from logtray.tray.base.errors import LogtrayError
    from logtray.tray.delivery.notifiers.console import ConsoleNotifier
    from logtray.tray.delivery.service import AlertService

    config = load_config(
        {
            "alerts_topic": {
                "enabled": True,
                "security_protocol": "SSL",
                "ssl_cafile": str(tmp_path / "gone.pem"),
            }
        }
    )
    service = AlertService(config, notifier=ConsoleNotifier(io.StringIO()))
    with pytest.raises(LogtrayError, match="cannot use the CA certificate"):
        asyncio.run(service.start(listen=False))


def test_team_invite_prints_the_block_a_teammate_pastes(tmp_path) -> None:
    import subprocess

    import tomlkit

    from logtray.tray.commands.team import TEAMMATE_CA

    ca = tmp_path / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(tmp_path / "ca.key"), "-out", str(ca), "-subj", "/CN=team ca"],
        check=True, capture_output=True,
    )  # fmt: skip
    expected = subprocess.run(
        ["openssl", "x509", "-in", str(ca), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().split("=", 1)[1]  # fmt: skip
    config_file().parent.mkdir(parents=True)
    config_file().write_text(
        "[engine]\n"
        'bootstrap = "kafka.team.example:9093"\npublish = true\n'
        'security_protocol = "SASL_SSL"\nsasl_mechanism = "SCRAM-SHA-512"\n'
        'sasl_username = "team-engine"\nsasl_password = "host-secret"\n'
        f'ssl_cafile = "{ca}"\n'
    )
    result = logtray("team", "invite", "--user", "bob")
    assert result.returncode == 0, result.stderr
    assert "host-secret" not in result.stdout and "team-engine" not in result.stdout
    pasted = tomlkit.parse(result.stdout).unwrap()["alerts_topic"]
    assert pasted == {
        "enabled": True,
        "bootstrap": "kafka.team.example:9093",
        "topic": "logtray-alerts",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "bob",
        "sasl_password": "ask the team for yours",
        "ssl_cafile": TEAMMATE_CA,
    }
    assert f"Its SHA-256 fingerprint: {expected}" in result.stdout
    # What the teammate pastes is a valid [alerts_topic] for logtray itself.
    mine = tmp_path / "teammate.toml"
    mine.write_text(result.stdout)
    assert load_config(path=mine).alerts_topic.sasl_username == "bob"


def test_team_invite_with_an_unreadable_ca_is_one_sentence(tmp_path) -> None:
    config_file().parent.mkdir(parents=True)
    config_file().write_text(
        f'[engine]\nsecurity_protocol = "SSL"\nssl_cafile = "{tmp_path / "gone.pem"}"\n'
    )
    result = logtray("team", "invite")
    assert result.returncode == 1 and "cannot read a certificate from" in result.stderr
    assert "Traceback" not in result.stderr
