import logging
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtray.tray.base.config import ConfigError, ensure_token, load_config, to_toml
from logtray.tray.base.paths import config_file


def write(text):
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    config = load_config(environ={})
    assert config.listener.port == 10000
    assert config.listener.hosts == ()
    assert config.notifier.backend == "auto"


def test_layers_file_then_env_then_flags():
    write("[listener]\nport = 11000\nmax_connections = 9\n[alerts]\ncooldown_s = 30\n")
    env = {"LOGTRAY_LISTENER_PORT": "12000", "LOGTRAY_LISTENER_HOSTS": "127.0.0.1, ::1"}
    config = load_config(flags={"listener": {"port": 13000}}, environ=env)
    assert config.listener.port == 13000
    assert config.listener.max_connections == 9
    assert config.listener.hosts == ("127.0.0.1", "::1")
    assert config.alerts.cooldown_s == 30.0
    assert load_config(environ=env).listener.port == 12000


def test_bad_value_names_file_key_and_expected_form():
    path = write('[listener]\nport = "ten thousand"\n')
    with pytest.raises(ConfigError) as info:
        load_config(environ={})
    assert str(path) in info.value.message
    assert "[listener] port" in info.value.message
    assert "expected an integer" in info.value.message


def test_out_of_range_and_bad_choice():
    write("[listener]\nport = 70000\n")
    with pytest.raises(ConfigError, match="from 1 to 65535"):
        load_config(environ={})
    write('[notifier]\nbackend = "growl"\n')
    with pytest.raises(ConfigError, match="one of 'auto', 'desktop', 'plyer', 'console'"):
        load_config(environ={})


def test_env_value_errors_name_the_environment():
    with pytest.raises(ConfigError, match="environment"):
        load_config(environ={"LOGTRAY_ALERTS_COOLDOWN_S": "soon"})


def test_broken_toml_names_the_file():
    path = write("[listener\n")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_config(environ={})
    assert str(path) in info.value.message


def test_unknown_keys_warn(caplog):
    write("[listener]\nprot = 1\n[colours]\nx = 1\n")
    with caplog.at_level(logging.WARNING):
        load_config(environ={"LOGTRAY_NOPE": "1"})
    text = caplog.text
    assert "unknown key [listener] prot" in text
    assert "unknown section [colours]" in text
    assert "LOGTRAY_NOPE" in text


def test_stack_service_overrides_are_typed():
    write(
        '[stack.services.kafka]\nimage = "local/kafka:test"\nports = {"9094" = 19094}\n'
        'enabled = false\nhealthcheck = ["CMD", "true"]\n'
    )
    kafka = load_config(environ={}).stack.services["kafka"]
    assert kafka.image == "local/kafka:test"
    assert kafka.ports == {"9094": 19094}
    assert kafka.enabled is False
    assert kafka.healthcheck == ("CMD", "true")
    write('[stack.services.kafka]\nports = {"9094" = "high"}\n')
    with pytest.raises(ConfigError, match=r"ports.9094"):
        load_config(environ={})


def test_token_is_generated_once_kept_private_and_hidden_from_show():
    write("# my settings\n[alerts]\ncooldown_s = 30\n")
    config = ensure_token(load_config(environ={}))
    assert len(config.listener.token) >= 24
    again = load_config(environ={})
    assert again.listener.token == config.listener.token
    assert ensure_token(again).listener.token == config.listener.token
    text = config_file().read_text()
    assert "# my settings" in text and "cooldown_s = 30" in text
    assert stat.S_IMODE(config_file().stat().st_mode) == 0o600
    assert config.listener.token not in to_toml(again)


def test_every_number_has_a_range():
    import dataclasses
    import typing

    from logtray.stack.config import ServiceOverride
    from logtray.tray.base.config import _CHECKS, SECTIONS

    for name, cls in [*SECTIONS.items(), ("ServiceOverride", ServiceOverride)]:
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[f.name]
            numeric = hint in (int, float, int | None, float | None)
            if numeric or f.name in ("ports", "url", "allowed_url_prefixes"):
                assert (name, f.name) in _CHECKS, f"[{name}] {f.name} has no range"


def test_absurd_numbers_fail_with_file_key_and_form():
    for env, key, form in [
        ({"LOGTRAY_KIBANA_AFTER_S": "1e12"}, "[kibana] after_s", "from 0 to"),
        ({"LOGTRAY_ENGINE_THRESHOLD": "-1"}, "[engine] threshold", "from 1 to"),
        ({"LOGTRAY_ENGINE_WINDOW_S": "-10"}, "[engine] window_s", "> 0"),
        ({"LOGTRAY_LISTENER_IDLE_TIMEOUT_S": "nan"}, "[listener] idle_timeout_s", "> 0"),
        ({"LOGTRAY_ALERTS_COOLDOWN_S": "inf"}, "[alerts] cooldown_s", "from 0 to"),
    ]:
        with pytest.raises(ConfigError, match=form) as info:
            load_config(environ=env)
        assert "environment" in info.value.message and key in info.value.message
    write('[stack.services.kafka]\nports = {"9094" = 70000}\n')
    with pytest.raises(ConfigError, match="ports"):
        load_config(environ={})
    write('[kibana]\nallowed_url_prefixes = ["file:///"]\n')
    with pytest.raises(ConfigError, match="allowed_url_prefixes"):
        load_config(environ={})


def test_invalid_utf8_is_a_clear_error():
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"[listener]\nport = 10001\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not valid UTF-8") as info:
        load_config(environ={})
    assert str(path) in info.value.message


def test_a_huge_config_file_is_an_error_not_a_slow_read(monkeypatch):
    from pathlib import Path

    with pytest.raises(ConfigError, match="is over 1024 KiB"):
        load_config(environ={}, path=Path("/dev/zero"))  # endless: read 1 MiB, then stop
    path = write("# " + "x" * (2 * 1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="not a logtray config file"):
        load_config(environ={}, path=path)


def test_deeply_nested_toml_is_a_clear_error():
    path = write("[listener]\nhosts = " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply") as caught:
        load_config(environ={}, path=path)
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[editor]\ncommand = "code \\"--goto"\n', "balanced quotes"),
        ('[editor]\npaths = {"/app" = "src/app"}\n', "absolute local folders"),
        ('[editor]\nroots = ["~/src/shop", "src/app"]\n', "absolute local folders"),
        ('[editor]\nroots = "~/src/shop"\n', "roots"),
    ],
)
def test_editor_settings_fail_at_start_not_when_used(text, expected):
    write(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(environ={})
    write('[editor]\ncommand = "vim -p"\npaths = {"/app" = "~/src/app"}\nroots = ["~/src"]\n')
    assert load_config(environ={}).editor.paths == {"/app": "~/src/app"}
    assert load_config(environ={}).editor.roots == ("~/src",)


def test_catch_up_bounds_are_checked():
    config = load_config({"alerts": {"catch_up_max_age": 3600, "catch_up_max_records": 10}})
    assert (config.alerts.catch_up_max_age, config.alerts.catch_up_max_records) == (3600, 10)
    assert load_config().alerts.catch_up_max_age == 86400
    for key, bad in (("catch_up_max_age", -1), ("catch_up_max_records", -5)):
        with pytest.raises(ConfigError, match=key):
            load_config({"alerts": {key: bad}})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_the_alerts_topic_is_a_kafka_topic_name_or_a_clear_error(name):
    """Any text for [stack] alerts_topic is taken only as a name Kafka would take (or empty:
    off); anything else is refused with the key and the form, never passed to Riemann."""
    try:
        topic = load_config({"stack": {"alerts_topic": name}}).stack.alerts_topic
    except ConfigError as exc:
        assert "alerts_topic" in exc.message and "Kafka topic name" in exc.message
        return
    assert topic == "" or (
        len(topic) <= 249
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in topic)
        and topic not in (".", "..")
    )


def test_the_alerts_topic_and_its_retention_have_sane_defaults_and_bounds():
    stack = load_config({}).stack
    assert (stack.alerts_topic, stack.alerts_retention_s) == ("logtray-alerts", 7 * 86400.0)
    assert load_config({"stack": {"alerts_topic": ""}}).stack.alerts_topic == ""
    for bad in (0, 59, 366 * 86400):
        with pytest.raises(ConfigError, match="alerts_retention_s"):
            load_config({"stack": {"alerts_retention_s": bad}})


# Bootstrap lists: entries built from likely and arbitrary hosts and ports, and any text.
_HOSTS = st.sampled_from(["127.0.0.1", "localhost", "kafka", "my_kafka", "[::1]", "a.example"])
_PORTS = st.one_of(
    st.integers(1, 65_535).map(str), st.integers(-1, 70_000).map(str), st.text(max_size=6)
)
_ENTRIES = st.builds(
    lambda host, sep, port: f"{host}{sep}{port}",
    st.one_of(_HOSTS, _HOSTS, st.text(max_size=12)),
    st.sampled_from([":", ":", ":", "", " : "]),
    _PORTS,
)
_GOOD_ENTRIES = st.builds(lambda host, port: f"{host}:{port}", _HOSTS, st.integers(1, 65_535))
_BOOTSTRAPS = st.one_of(
    st.text(max_size=300),
    st.lists(_GOOD_ENTRIES, min_size=1, max_size=3).map(",".join),
    st.lists(_ENTRIES, max_size=4).flatmap(
        lambda entries: st.sampled_from([",", ", ", ",,"]).map(lambda sep: sep.join(entries))
    ),
)


def _host_port_list(value: str) -> bool:
    """What aiokafka makes of `value` (aiokafka/conn.py collect_hosts): one host and a port
    written as 1 to 65535 for every comma-separated entry."""
    from aiokafka.conn import collect_hosts

    entries = [entry.strip() for entry in value.split(",")]
    written_ports = [entry.rpartition(":")[2] for entry in entries]
    if not all(port.isascii() and port.isdigit() for port in written_ports):
        return False
    hosts = collect_hosts(value, randomize=False)
    return (
        len(hosts) == len(entries)
        and all(host and not any(c.isspace() for c in host) for host, _, _ in hosts)
        and [port for _, port, _ in hosts] == [int(port) for port in written_ports]
        and all(1 <= port <= 65535 for _, port, _ in hosts)
    )


@settings(max_examples=300, deadline=None)
@given(_BOOTSTRAPS, st.sampled_from(["engine", "alerts_topic"]))
def test_a_bootstrap_is_a_host_port_list_or_a_clear_error(value, section):
    """Any text for [engine] or [alerts_topic] bootstrap, in the file or the environment, is
    taken only as a list of host:port aiokafka reads as written, or refused at load with the
    key, the file (or the environment) and the form; never another error, never a failure later."""
    import tempfile
    from pathlib import Path

    import tomlkit

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(tomlkit.dumps({section: {"bootstrap": value}}), encoding="utf-8")
        variable = {f"LOGTRAY_{section.upper()}_BOOTSTRAP": value}
        for where, load in (
            (str(path), lambda: load_config(environ={}, path=path)),
            ("environment", lambda: load_config(environ=variable, path=Path(tmp) / "none")),
        ):
            try:
                config = load()
            except ConfigError as exc:
                assert f"[{section}] bootstrap" in exc.message and where in exc.message
                assert "a list of host:port" in exc.message and exc.fix
                continue
            assert getattr(config, section).bootstrap == value
            assert _host_port_list(value), value


@pytest.mark.parametrize("value", ["", "   ", "localhost", "kafka:0", "kafka:65536", "a:1,"])
def test_a_bootstrap_without_a_port_is_refused_at_load(value):
    path = write(f'[engine]\nbootstrap = "{value}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(environ={})
    assert info.value.message == (
        f"{path}: [engine] bootstrap = {value!r} is not valid: expected a list of host:port, "
        'e.g. "127.0.0.1:9094" or "kafka1:9092,kafka2:9092" (an IPv6 address in brackets: '
        '"[::1]:9094")'
    )
    assert info.value.fix == "correct or remove this setting"
    for good in ("127.0.0.1:9094", "kafka1:9092, kafka2:9092", "[::1]:9094"):
        write(f'[engine]\nbootstrap = "{good}"\n')
        assert load_config(environ={}).engine.bootstrap == good
