"""Spec resolution, hashing, ordering and compose rendering: pure functions, no engine."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.stack.compose import render
from logtray.stack.config import ServiceOverride, StackConfig
from logtray.stack.specs import (
    PROFILES,
    RIEMANN_CONFIG,
    HttpReadiness,
    KafkaReadiness,
    builtin_specs,
    kinds_env,
    parse_mem,
    resolve,
    spec_hash,
    start_layers,
)
from logtray.tray.base.config import KindsSettings, ListenerConfig, load_config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.commands.stack_cmd import stack_specs
from tests.conftest import need

LISTENER = ListenerConfig(port=10123, token="s3cret")


def names(cfg: StackConfig) -> list[str]:
    return [s.name for s in resolve(cfg, LISTENER)]


def test_profiles() -> None:
    assert names(StackConfig()) == list(PROFILES["full"])
    assert names(StackConfig(profile="lite")) == ["kafka", "demo"]


def test_disable_and_enable_per_service() -> None:
    cfg = StackConfig(services={"riemann": ServiceOverride(enabled=False)})
    assert "riemann" not in names(cfg)
    lite_plus = StackConfig(
        profile="lite", services={"elasticsearch": ServiceOverride(enabled=True)}
    )
    assert names(lite_plus) == ["kafka", "elasticsearch", "demo"]


def test_disabled_dependency_is_dropped_from_dependents() -> None:
    cfg = StackConfig(services={"elasticsearch": ServiceOverride(enabled=False)})
    specs = {s.name: s for s in resolve(cfg, LISTENER)}
    assert specs["riemann"].depends_on == ("kafka",)
    assert "kibana" in specs and specs["kibana"].depends_on == ()


def test_overrides_apply() -> None:
    cfg = StackConfig(
        services={
            "kafka": ServiceOverride(
                image="my/kafka:1",
                env={"EXTRA": "1", "KAFKA_NODE_ID": "7"},
                ports={"9094": 19094},
                healthcheck=("/bin/check", "--fast"),
                healthcheck_interval_s=0.5,
                mem_limit="2g",
                command=("run",),
            )
        }
    )
    kafka = resolve(cfg, LISTENER)[0]
    assert kafka.image == "my/kafka:1"
    assert kafka.env["EXTRA"] == "1" and kafka.env["KAFKA_NODE_ID"] == "7"
    assert kafka.env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # the rest is kept
    assert kafka.ports == {"9094/tcp": 19094}
    assert kafka.healthcheck is not None
    assert kafka.healthcheck.test == ("CMD", "/bin/check", "--fast")
    assert kafka.healthcheck.interval_s == 0.5
    assert kafka.mem_limit == "2g" and kafka.command == ("run",)


def test_empty_healthcheck_override_turns_it_off() -> None:
    cfg = StackConfig(services={"kafka": ServiceOverride(healthcheck=())})
    assert resolve(cfg, LISTENER)[0].healthcheck is None


def test_user_image_replaces_the_local_build() -> None:
    demo = {s.name: s for s in resolve(StackConfig(), LISTENER)}["demo"]
    assert demo.build is not None and Path(demo.build, demo.dockerfile).exists()
    assert demo.ports == {"8089/tcp": 8089}  # the spike endpoint, on 127.0.0.1
    cfg = StackConfig(services={"demo": ServiceOverride(image="me/demo:2")})
    demo2 = {s.name: s for s in resolve(cfg, LISTENER)}["demo"]
    assert demo2.build is None and demo2.image == "me/demo:2"


def test_unknown_service_and_bad_name_fail_clearly() -> None:
    with pytest.raises(LogtrayError, match=r"unknown service.*kafak"):
        resolve(StackConfig(services={"kafak": ServiceOverride()}), LISTENER)
    with pytest.raises(LogtrayError, match="not a valid Docker name"):
        resolve(StackConfig(name="has space"), LISTENER)


def test_riemann_gets_listener_port_token_and_host_gateway() -> None:
    riemann = builtin_specs(LISTENER)["riemann"]
    assert riemann.env["ALERT_PORT"] == "10123"
    assert riemann.env["ALERT_TOKEN"] == "s3cret"
    assert riemann.env["ALERT_HOST"] == "host.docker.internal"
    assert riemann.extra_hosts == {"host.docker.internal": "host-gateway"}
    # No host-path bind mount: the config is copied into an image built FROM the riemann one.
    assert riemann.binds == {}
    assert riemann.image == "riemannio/riemann:0.3.12"
    assert riemann.overlay == str(RIEMANN_CONFIG.parent)
    dockerfile = (RIEMANN_CONFIG.parent / "Dockerfile").read_text()
    assert "FROM ${BASE}" in dockerfile
    assert "COPY riemann.config /etc/riemann.config" in dockerfile
    assert RIEMANN_CONFIG.exists()


def test_kafka_keeps_its_data_in_the_named_volume() -> None:
    # apache/kafka configured from env only falls back to /tmp/kafka-logs without this.
    kafka = builtin_specs(LISTENER)["kafka"]
    assert kafka.env["KAFKA_LOG_DIRS"] == kafka.volumes["kafka-data"] == "/var/lib/kafka/data"


def test_health_checks_are_cheap_and_relaxed() -> None:
    specs = builtin_specs(LISTENER)
    for spec in specs.values():
        if spec.healthcheck is None:
            continue
        text = " ".join(spec.healthcheck.test)
        # No JVM per check (the kafka-*.sh tools start one), no grep that any plugin matches.
        assert "kafka-" not in text and "java" not in text and "grep" not in text, text
        assert spec.healthcheck.interval_s >= 30
    assert specs["kafka"].healthcheck == dataclasses.replace(
        specs["kafka"].healthcheck,  # type: ignore[arg-type]
        test=("CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9092"),
    )
    # Readiness during `up` comes from the host, through the published ports.
    assert specs["kafka"].readiness == KafkaReadiness("9094/tcp")
    for name in ("elasticsearch", "kibana"):
        readiness = specs[name].readiness
        assert isinstance(readiness, HttpReadiness) and readiness.port in specs[name].ports
    kibana = specs["kibana"].readiness
    assert isinstance(kibana, HttpReadiness)
    assert kibana.json_value == "available" and kibana.tolerated == ("degraded",)
    assert kibana.tolerate_after_s > 0


def test_every_published_port_is_fixed_on_loopback_in_the_real_stack() -> None:
    for spec in builtin_specs(LISTENER).values():
        for host_port in spec.ports.values():
            assert 1024 <= host_port <= 65535


def test_spec_hash_is_stable_and_sensitive() -> None:
    kafka = builtin_specs(LISTENER)["kafka"]
    assert spec_hash(kafka, {"image_id": "a"}) == spec_hash(kafka, {"image_id": "a"})
    assert spec_hash(kafka, {"image_id": "a"}) != spec_hash(kafka, {"image_id": "b"})
    changed = dataclasses.replace(kafka, env={**kafka.env, "X": "1"})
    assert spec_hash(kafka) != spec_hash(changed)
    reordered = dataclasses.replace(kafka, env=dict(reversed(list(kafka.env.items()))))
    assert spec_hash(kafka) == spec_hash(reordered)


def test_start_layers() -> None:
    assert start_layers(resolve(StackConfig(), LISTENER)) == [
        ["kafka", "elasticsearch"],
        ["riemann", "kibana", "demo"],
    ]
    specs = list(builtin_specs(LISTENER).values())
    cyclic = [
        dataclasses.replace(s, depends_on=("riemann",)) if s.name == "kafka" else s for s in specs
    ]
    with pytest.raises(LogtrayError, match="cycle"):
        start_layers(cyclic)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1.5G", int(1.5 * 1024**3)),
        ("100", 100),
        ("64k", 65536),
        ("2gb", 2 * 1024**3),
    ],
)
def test_parse_mem(text: str, value: int) -> None:
    assert parse_mem(text) == value


def test_parse_mem_rejects_garbage() -> None:
    with pytest.raises(LogtrayError):
        parse_mem("lots")


def test_overrides_load_from_the_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[stack]\nprofile = "lite"\nname = "mystack"\npull = false\n'
        '[stack.services.kafka]\nimage = "local/kafka:1"\nports = { "9094" = 19094 }\n'
        'healthcheck = ["CMD", "true"]\nhealthcheck_interval_s = 1.5\n'
        'command = ["broker"]\n'
        '[stack.services.elasticsearch]\nenabled = true\nmem_limit = "2g"\n'
    )
    cfg = load_config(path=path, environ={})
    assert cfg.stack.name == "mystack" and cfg.stack.pull is False
    specs = {s.name: s for s in resolve(cfg.stack, cfg.listener)}
    assert list(specs) == ["kafka", "elasticsearch", "demo"]
    assert specs["kafka"].image == "local/kafka:1"
    assert specs["kafka"].command == ("broker",)
    assert specs["elasticsearch"].mem_limit == "2g"


def test_riemann_follows_the_users_kinds_settings(tmp_path: Path) -> None:
    """[kinds] reaches Riemann as KINDS_* values through the path `logtray stack` takes, so
    Riemann's book keeps its kinds in the topic `logtray kinds` reads, with the same bounds."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[kinds]\nenabled = false\ntopic = "team-kinds"\nlearn_s = 2.5\nburst_max = 7\n'
        "burst_s = 90\nmax_kinds = 123\n"
    )
    cfg = load_config(path=path, environ={})
    riemann = {s.name: s for s in stack_specs(cfg)}["riemann"]
    assert {k: v for k, v in riemann.env.items() if k.startswith("KINDS_")} == {
        "KINDS_ENABLED": "false",
        "KINDS_TOPIC": cfg.kinds.topic,
        "KINDS_LEARN_S": "2.5",
        "KINDS_BURST_MAX": "7",
        "KINDS_BURST_S": "90",
        "KINDS_MAX": "123",
    }
    assert cfg.kinds.topic == "team-kinds"


def test_the_built_in_kinds_values_are_the_engine_s_defaults() -> None:
    """Without [kinds] the specs (and their hashes: no container recreated) are the built-in
    ones, and those are the engine's defaults."""
    plain = resolve(StackConfig(), LISTENER)
    followed = resolve(StackConfig(), LISTENER, kinds=KindsSettings())
    assert plain == followed
    assert [spec_hash(s) for s in plain] == [spec_hash(s) for s in followed]
    env = builtin_specs(LISTENER)["riemann"].env
    assert {k: v for k, v in env.items() if k.startswith("KINDS_")} == kinds_env(KindsSettings())


def test_a_riemann_env_override_still_wins_over_kinds() -> None:
    stack = StackConfig(services={"riemann": ServiceOverride(env={"KINDS_TOPIC": "mine"})})
    specs = resolve(stack, LISTENER, kinds=KindsSettings(topic="theirs"))
    assert {s.name: s for s in specs}["riemann"].env["KINDS_TOPIC"] == "mine"


@given(
    learn_s=st.floats(0, 86400, allow_nan=False),
    burst_max=st.integers(1, 10_000),
    burst_s=st.floats(0, 86400, exclude_min=True, allow_nan=False),
    max_kinds=st.integers(1, 1_000_000),
)
def test_kinds_values_read_back_as_riemann_config_parses_them(
    learn_s: float, burst_max: int, burst_s: float, max_kinds: int
) -> None:
    """Any [kinds] the config accepts gives values riemann.config's parsers take exactly
    (Long/parseLong for counts: digits only; Double/parseDouble for seconds), never one it
    would replace by its default."""
    settings = KindsSettings(
        learn_s=learn_s, burst_max=burst_max, burst_s=burst_s, max_kinds=max_kinds
    )
    env = kinds_env(settings)
    for key, want in (("KINDS_BURST_MAX", burst_max), ("KINDS_MAX", max_kinds)):
        assert env[key].isdigit() and int(env[key]) == want
    for key, seconds in (("KINDS_LEARN_S", learn_s), ("KINDS_BURST_S", burst_s)):
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?", env[key]), env[key]
        assert float(env[key]) == seconds


def test_compose_render_keeps_secrets_out_and_escapes_dollars() -> None:
    cfg = StackConfig(services={"demo": ServiceOverride(env={"PRICE": "$5"})})
    text = render("logtray", resolve(cfg, LISTENER))
    assert "s3cret" not in text
    assert '"ALERT_TOKEN": "${LOGTRAY_LISTENER_TOKEN}"' in text
    assert '"PRICE": "$$5"' in text
    assert '"127.0.0.1:9200:9200/tcp"' in text
    assert "condition: service_healthy" in text
    assert "init: true" in text


def _kafka_addresses(text: str) -> tuple[str, str]:
    """The host port Kafka is published on and the one it advertises to host clients, read
    from a compose file as logtray writes it or as `docker-compose config` normalizes it."""
    published = re.findall(r"127\.0\.0\.1:(\d*):9094/tcp", text)
    advertised = re.findall(r"EXTERNAL://localhost:(\d+)", text)
    assert len(published) == 1 and len(advertised) == 1, text
    return published[0], advertised[0]


def test_compose_gives_kafka_on_any_free_port_the_port_it_advertises() -> None:
    cfg = StackConfig(services={"kafka": ServiceOverride(ports={"9094": 0})})
    published, advertised = _kafka_addresses(render("logtray", resolve(cfg, LISTENER)))
    assert published == advertised and int(published) > 0
    text = render("logtray", resolve(cfg, LISTENER), pick_port=lambda: 41234)
    assert _kafka_addresses(text) == ("41234", "41234")
    assert "41234 was free when this" in text
    # A fixed port is written as it is, with no note.
    fixed = StackConfig(services={"kafka": ServiceOverride(ports={"9094": 19094})})
    text = render("logtray", resolve(fixed, LISTENER), pick_port=lambda: 41234)
    assert _kafka_addresses(text) == ("19094", "19094") and "was free" not in text


def _compose_command() -> list[str]:
    plugin = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=60
    )
    if plugin and plugin.returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    need(standalone is not None, "neither `docker compose` nor docker-compose is installed")
    return [str(standalone)]


def test_compose_output_is_valid_for_docker_compose(tmp_path: Path) -> None:
    command = _compose_command()
    cfg = StackConfig(services={"kafka": ServiceOverride(ports={"9094": 0})})
    path = tmp_path / "docker-compose.yml"
    path.write_text(render("logtray", resolve(cfg, LISTENER)))
    env = {"LOGTRAY_LISTENER_TOKEN": "t", "PATH": "/usr/bin"}
    out = subprocess.run(
        [*command, "-f", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "condition: service_healthy" in out.stdout
    # What compose would run: Kafka published on the port it tells host clients to use.
    published, advertised = _kafka_addresses(out.stdout)
    assert published == advertised and int(published) > 0


def test_kafka_advertises_the_published_host_port() -> None:
    cfg = StackConfig(services={"kafka": ServiceOverride(ports={"9094": 19094})})
    kafka = resolve(cfg, LISTENER)[0]
    assert "EXTERNAL://localhost:19094" in kafka.env["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in kafka.env["KAFKA_ADVERTISED_LISTENERS"]
    assert (
        "EXTERNAL://localhost:9094"
        in resolve(StackConfig(), LISTENER)[0].env["KAFKA_ADVERTISED_LISTENERS"]
    )
    own = StackConfig(
        services={
            "kafka": ServiceOverride(
                ports={"9094": 19094}, env={"KAFKA_ADVERTISED_LISTENERS": "EXTERNAL://me:1"}
            )
        }
    )
    assert resolve(own, LISTENER)[0].env["KAFKA_ADVERTISED_LISTENERS"] == "EXTERNAL://me:1"


def test_base_images_of_a_dockerfile() -> None:
    from logtray.stack.images import base_images

    text = (
        "# syntax\nFROM python:3.12-slim AS build\nRUN x\n"
        "FROM --platform=linux/amd64 build\nFROM scratch\nfrom debian:12\nFROM $BASE\n"
        "FROM python:3.12-slim\n"
    )
    assert base_images(text) == ["python:3.12-slim", "debian:12"]
    demo = (Path(__file__).resolve().parents[2] / "stack" / "demo" / "Dockerfile").read_text()
    assert base_images(demo) == ["python:3.12-slim"]
