"""The stack declared as data, and the pure functions over it.

`builtin_specs` is the stack as shipped; `resolve` applies the profile and the user's overrides
from the config; `spec_hash` fingerprints what a container was created from (a changed hash
means: recreate); `start_layers` orders services by their dependencies.

Where the facts come from (checked 2026-11):
- apache/kafka: the project's own image (docker/jvm/Dockerfile in apache/kafka: alpine base with
  bash, Kafka in /opt/kafka, config from KAFKA_* env by /etc/kafka/docker/configure). KRaft env
  per the Kafka docker docs (docker/examples in apache/kafka). Bitnami's tags were moved to a
  legacy repo in 2025, so they are avoided.
- apache/kafka's env -> server.properties (the team profile's listener): KafkaDockerWrapper
  (core/src/main/scala/kafka/docker/KafkaDockerWrapper.scala, getServerConfigsFromEnv, run by
  docker/jvm/launch) writes every KAFKA_* variable but the *_OPTS ones as `key=value`: "KAFKA_"
  dropped, lower case, "_" -> ".", "___" -> "-", "__" -> "_" (docker/examples/README.md, "Using
  Environment Variables"); the value is written as it is, so it must be one line (Java
  properties escapes, a backslash and n for a line break, are read back).
  docker/resources/common-scripts/configure demands JKS files in /etc/kafka/secrets only when
  KAFKA_ADVERTISED_LISTENERS contains "SSL://", and KAFKA_OPTS with a JAAS file only for
  "SASL_...://": a listener named TEAM (mapped to SASL_SSL) is configured by its
  listener.name.team.* properties alone. PEM key stores (KIP-651; DefaultSslEngineFactory):
  ssl.keystore.type=PEM with ssl.keystore.certificate.chain and ssl.keystore.key
  (unencrypted PKCS#8 when there is no ssl.key.password); SASL PLAIN logins inline in
  listener.name.<l>.plain.sasl.jaas.config (PlainLoginModule, user_<name>="<password>").
- Elasticsearch/Kibana 8.19: elastic.co "Install Elasticsearch with Docker" (single-node,
  security off, ES_JAVA_OPTS) and "Install Kibana with Docker" (ELASTICSEARCH_HOSTS env);
  readiness endpoints from the cluster-health and Kibana status API references.
- riemannio/riemann:0.3.12: pushed by riemann's release workflow (0.3.12, 2025-05-26). Its
  Dockerfile (riemann/riemann, master after 0.3.12): base eclipse-temurin:21-jre-noble (Ubuntu:
  bash, no curl/nc), `CMD ["/bin/riemann", "/etc/riemann.config"]`; pkg/tar/riemann passes
  EXTRA_JAVA_OPTS to java. riemann.config's helpers were checked against src/riemann/config.clj
  (kafka-consumer registers itself as a service; async-queue! [name opts & children]).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

from logtray.stack.config import StackConfig
from logtray.stack.errors import LogtrayError
from logtray.stack.team import TEAM_MECHANISM, TeamAddress, TeamMaterial, team_address

STACK_DIR = Path(__file__).resolve().parent
RIEMANN_CONFIG = STACK_DIR / "riemann" / "riemann.config"
DEMO_DIR = STACK_DIR / "demo"


class AlertEndpoint(Protocol):
    """Where Riemann sends its alerts: logtray's listener (tray's [listener] section fits)."""

    @property
    def port(self) -> int: ...

    @property
    def token(self) -> str: ...


class KindRules(Protocol):
    """The error kinds' settings Riemann follows (tray's [kinds] section fits), so that its book
    and `logtray kinds` use the same topic and bounds as the lite profile's engine."""

    @property
    def enabled(self) -> bool: ...

    @property
    def topic(self) -> str: ...

    @property
    def learn_s(self) -> float: ...

    @property
    def burst_max(self) -> int: ...

    @property
    def burst_s(self) -> float: ...

    @property
    def max_kinds(self) -> int: ...


def _number(value: float) -> str:
    """A number as riemann.config parses it (Long or Double): "30" for 30.0, "0.5" for 0.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def kinds_env(kinds: KindRules) -> dict[str, str]:
    """[kinds] as riemann.config's KINDS_* values (its "error kinds: the book")."""
    return {
        "KINDS_ENABLED": "true" if kinds.enabled else "false",
        "KINDS_TOPIC": kinds.topic,
        "KINDS_LEARN_S": _number(kinds.learn_s),
        "KINDS_BURST_MAX": _number(kinds.burst_max),
        "KINDS_BURST_S": _number(kinds.burst_s),
        "KINDS_MAX": _number(kinds.max_kinds),
    }


KAFKA_IMAGE = "apache/kafka:4.1.0"
ELASTIC_VERSION = "8.19.0"
ES_IMAGE = f"docker.elastic.co/elasticsearch/elasticsearch:{ELASTIC_VERSION}"
KIBANA_IMAGE = f"docker.elastic.co/kibana/kibana:{ELASTIC_VERSION}"
RIEMANN_IMAGE = "riemannio/riemann:0.3.12"
DEMO_IMAGE = "logtray/demo:local"

# Where apache/kafka keeps its data. Configured from KAFKA_* env only, its start script drops the
# default server.properties and log.dirs falls back to /tmp/kafka-logs (inside the container,
# lost on every recreate): KAFKA_LOG_DIRS points it at the named volume. The image creates this
# directory owned by its user (appuser), so a new volume mounted there is writable.
KAFKA_DATA_DIR = "/var/lib/kafka/data"

# Kafka's listener for clients on this machine (EXTERNAL): the container port the stack
# publishes on the host's loopback, and what host clients' bootstrap addresses point at.
KAFKA_HOST_PORT = "9094/tcp"

# A fixed KRaft cluster id (22 chars of url-safe base64); one single-node cluster per machine.
KAFKA_CLUSTER_ID = "bG9ndHJheS1rYWZrYS0xMQ"

PROFILES: dict[str, tuple[str, ...]] = {
    "full": ("kafka", "elasticsearch", "riemann", "kibana", "demo"),
    # The embedded rule engine (pipeline issue) replaces Riemann; no Elasticsearch/Kibana.
    "lite": ("kafka", "demo"),
    # The full stack, and Kafka opened to teammates (SASL_SSL) on [stack] team_host.
    "team": ("kafka", "elasticsearch", "riemann", "kibana", "demo"),
}

# The team profile's Kafka listener: its name in KAFKA_* settings and its container port.
TEAM_LISTENER = "TEAM"
TEAM_PORT = "9095/tcp"
# The topic Riemann publishes every alert to in the team profile (teammates' [alerts_topic])
# when [stack] alerts_topic is empty: teammates always have one to read.
TEAM_ALERTS_TOPIC = "logtray-alerts"
_TEAM_PREFIX = f"KAFKA_LISTENER_NAME_{TEAM_LISTENER}_"
TEAM_KEY_ENV = f"{_TEAM_PREFIX}SSL_KEYSTORE_KEY"
TEAM_JAAS_ENV = f"{_TEAM_PREFIX}{TEAM_MECHANISM}_SASL_JAAS_CONFIG"

# Env values that are secrets -> the variable the compose output references instead. It is the
# variable that also sets the value in logtray's own config ([listener] token).
SECRET_ENV: dict[str, str] = {
    "ALERT_TOKEN": "LOGTRAY_LISTENER_TOKEN",
    # The team profile's private key and logins (from the team folder, never printed).
    TEAM_KEY_ENV: "LOGTRAY_TEAM_KAFKA_KEY",
    TEAM_JAAS_ENV: "LOGTRAY_TEAM_KAFKA_JAAS",
}

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class Healthcheck:
    """A Docker healthcheck. Docker 20.10 has no start_interval: `interval_s` is also the
    delay before the first check. The shipped checks are cheap (a TCP connect or one local
    HTTP request) at a relaxed interval; fast readiness during `up` comes from the host probes
    (`readiness`) or from logtray running the same test right away."""

    test: tuple[str, ...]
    interval_s: float = 2.0
    timeout_s: float = 5.0
    retries: int = 30
    start_period_s: float = 0.0


@dataclass(frozen=True)
class HttpReadiness:
    """Ready when GET http://127.0.0.1:<published port><path> answers 200 (and, when
    `json_path` is set, the JSON value at that path equals `json_value`). A value in
    `tolerated` counts as ready once it has lasted `tolerate_after_s` without a break;
    `summary_path` points at a human-readable explanation to show beside the value."""

    port: str
    path: str
    json_path: tuple[str, ...] = ()
    json_value: str = ""
    summary_path: tuple[str, ...] = ()
    tolerated: tuple[str, ...] = ()
    tolerate_after_s: float = 0.0


@dataclass(frozen=True)
class KafkaReadiness:
    """Ready when the broker answers a Kafka Metadata request through the published port."""

    port: str


Readiness = HttpReadiness | KafkaReadiness

# Docker's own checks: every 30 s (what an idle stack costs), 3 failures in a row = unhealthy,
# failures during the start period do not count.
HEALTH_INTERVAL_S = 30.0
HEALTH_RETRIES = 3
# Kibana's overall level includes every plugin and can stay "degraded" on a working Kibana.
KIBANA_DEGRADED_OK_S = 60.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # container port ("9094/tcp") -> host port on 127.0.0.1 (0: any free port)
    ports: Mapping[str, int] = field(default_factory=dict)
    # container port -> the host address it is published on, when not 127.0.0.1 (the team
    # profile's Kafka listener, on [stack] team_bind)
    port_hosts: Mapping[str, str] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    readiness: Readiness | None = None
    mem_limit: str | None = None
    depends_on: tuple[str, ...] = ()
    # named volume suffix -> container path (volume name: <stack>-<suffix>)
    volumes: Mapping[str, str] = field(default_factory=dict)
    # host file -> container path, read-only
    binds: Mapping[str, str] = field(default_factory=dict)
    extra_hosts: Mapping[str, str] = field(default_factory=dict)
    # A build context directory: the image is built from it when missing (never pulled).
    build: str | None = None
    # The Dockerfile, relative to the build context.
    dockerfile: str = "Dockerfile"
    # A directory whose Dockerfile copies files onto `image` (ARG BASE): the container runs
    # that locally built image (stack/riemann_image.py) instead of bind-mounting host files.
    overlay: str | None = None


def builtin_specs(listener: AlertEndpoint) -> dict[str, ServiceSpec]:
    """The shipped stack. The listener's port and token go to Riemann, which alerts the host."""
    kafka = ServiceSpec(
        name="kafka",
        image=KAFKA_IMAGE,
        env={
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "CLUSTER_ID": KAFKA_CLUSTER_ID,
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092,EXTERNAL://localhost:9094",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT"
            ),
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
            "KAFKA_LOG_DIRS": KAFKA_DATA_DIR,
        },
        ports={"9094/tcp": 9094},
        # A TCP connect in bash (the image has it): no JVM per check, unlike the kafka-*.sh tools,
        # which inherit KAFKA_HEAP_OPTS. Readiness is the host's Metadata request.
        healthcheck=Healthcheck(
            test=("CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9092"),
            interval_s=HEALTH_INTERVAL_S,
            timeout_s=5.0,
            retries=HEALTH_RETRIES,
            start_period_s=120.0,
        ),
        readiness=KafkaReadiness("9094/tcp"),
        mem_limit="1g",
        volumes={"kafka-data": KAFKA_DATA_DIR},
    )
    elasticsearch = ServiceSpec(
        name="elasticsearch",
        image=ES_IMAGE,
        env={
            "discovery.type": "single-node",
            "xpack.security.enabled": "false",
            "ES_JAVA_OPTS": "-Xms512m -Xmx512m",
        },
        ports={"9200/tcp": 9200},
        healthcheck=Healthcheck(
            test=(
                "CMD-SHELL",
                "curl -fsS 'http://localhost:9200/_cluster/health"
                "?wait_for_status=yellow&timeout=1s' >/dev/null",
            ),
            interval_s=HEALTH_INTERVAL_S,
            timeout_s=10.0,
            retries=HEALTH_RETRIES,
            start_period_s=180.0,
        ),
        readiness=HttpReadiness("9200/tcp", "/_cluster/health?wait_for_status=yellow&timeout=1s"),
        mem_limit="1g",
        volumes={"es-data": "/usr/share/elasticsearch/data"},
    )
    riemann = ServiceSpec(
        name="riemann",
        image=RIEMANN_IMAGE,
        env={
            "KAFKA_BOOTSTRAP": "kafka:9092",
            "KAFKA_TOPIC": "program-logs",
            "KAFKA_GROUP_ID": "logtray-riemann",
            "ES_URL": "http://elasticsearch:9200",
            "ALERT_HOST": "host.docker.internal",
            "ALERT_PORT": str(listener.port),
            "ALERT_TOKEN": listener.token,
            "THRESHOLD": "25",
            "WINDOW_S": "10",
            "THROTTLE_S": "30",
            # The Kafka topic every alert is kept on too ([stack] alerts_topic, set by
            # `resolve`; empty: the listener only).
            "ALERTS_TOPIC": "",
            # Error kinds (tests/kind_cases.md): the compacted topic they are kept in, and the
            # book's bounds, as the engine's [kinds] defaults (`resolve` sets the user's).
            "KINDS_ENABLED": "true",
            "KINDS_TOPIC": "logtray-kinds",
            "KINDS_LEARN_S": "30",
            "KINDS_BURST_MAX": "5",
            "KINDS_BURST_S": "60",
            "KINDS_MAX": "10000",
            "EXTRA_JAVA_OPTS": "-Xms128m -Xmx256m",
        },
        healthcheck=Healthcheck(
            # The image is Debian/Ubuntu based: bash's /dev/tcp needs no extra tool.
            test=("CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5555"),
            interval_s=HEALTH_INTERVAL_S,
            timeout_s=5.0,
            retries=HEALTH_RETRIES,
            start_period_s=180.0,
        ),
        mem_limit="512m",
        depends_on=("kafka", "elasticsearch"),
        # riemann.config is copied into an image built FROM `image` (stack/riemann/Dockerfile).
        overlay=str(RIEMANN_CONFIG.parent),
        extra_hosts={"host.docker.internal": "host-gateway"},
    )
    kibana = ServiceSpec(
        name="kibana",
        image=KIBANA_IMAGE,
        env={"ELASTICSEARCH_HOSTS": "http://elasticsearch:9200"},
        ports={"5601/tcp": 5601},
        # /api/status answers 503 only while Kibana's core is unavailable: 200 is "serving"
        # (available or degraded). No grep: a grep for "available" matches any plugin's entry.
        healthcheck=Healthcheck(
            test=("CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:5601/api/status"),
            interval_s=HEALTH_INTERVAL_S,
            timeout_s=10.0,
            retries=HEALTH_RETRIES,
            start_period_s=300.0,
        ),
        readiness=HttpReadiness(
            "5601/tcp",
            "/api/status",
            json_path=("status", "overall", "level"),
            json_value="available",
            summary_path=("status", "overall", "summary"),
            tolerated=("degraded",),
            tolerate_after_s=KIBANA_DEGRADED_OK_S,
        ),
        mem_limit="1g",
        depends_on=("elasticsearch",),
    )
    demo = ServiceSpec(
        name="demo",
        image=DEMO_IMAGE,
        env={"KAFKA_BOOTSTRAP": "kafka:9092", "KAFKA_TOPIC": "program-logs"},
        # POST http://127.0.0.1:8089/spike triggers an error spike on demand.
        ports={"8089/tcp": 8089},
        mem_limit="256m",
        depends_on=("kafka",),
        # The context is stack/: the image needs stack/kafka_handler.py beside demo/app.py.
        build=str(STACK_DIR),
        dockerfile=str(DEMO_DIR.relative_to(STACK_DIR) / "Dockerfile"),
    )
    return {s.name: s for s in (kafka, elasticsearch, riemann, kibana, demo)}


def _port_key(port: str) -> str:
    return port if "/" in port else f"{port}/tcp"


def properties_value(text: str) -> str:
    """`text` as one line of a Java properties file (Kafka reads the escapes back)."""
    return text.replace("\\", "\\\\").replace("\r", "").replace("\n", "\\n")


def team_kafka_env(material: TeamMaterial, address: TeamAddress) -> dict[str, str]:
    """The KAFKA_* settings adding the TEAM listener (SASL_SSL, PLAIN, PEM key store) to the
    shipped Kafka, in apache/kafka's env naming (see the module docstring)."""
    logins = " ".join(f'user_{user}="{password}"' for user, password in material.logins.items())
    return {
        "KAFKA_LISTENERS": (
            "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094,"
            f"{TEAM_LISTENER}://:{TEAM_PORT.split('/')[0]}"
        ),
        "KAFKA_ADVERTISED_LISTENERS": (
            "PLAINTEXT://kafka:9092,EXTERNAL://localhost:9094,"
            f"{TEAM_LISTENER}://{_url_host(address.host)}:{address.port}"
        ),
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
            f"CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT,{TEAM_LISTENER}:SASL_SSL"
        ),
        f"{_TEAM_PREFIX}SASL_ENABLED_MECHANISMS": TEAM_MECHANISM,
        TEAM_JAAS_ENV: (
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {logins};"
        ),
        f"{_TEAM_PREFIX}SSL_KEYSTORE_TYPE": "PEM",
        f"{_TEAM_PREFIX}SSL_KEYSTORE_CERTIFICATE_CHAIN": properties_value(material.server_cert_pem),
        TEAM_KEY_ENV: properties_value(material.server_key_pem),
    }


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _with_team(
    specs: dict[str, ServiceSpec], stack: StackConfig, team: TeamMaterial | None
) -> dict[str, ServiceSpec]:
    """The team profile: Kafka's TEAM listener published on team_bind (Riemann publishes to
    the alerts topic in every profile that runs it: `resolve`)."""
    address = team_address(stack)
    if team is None:
        raise LogtrayError(
            "the team profile needs its CA, certificate and logins, and none were given",
            fix="start it with `logtray stack up --profile team` (it makes them once)",
        )
    kafka = specs["kafka"]
    specs["kafka"] = replace(
        kafka,
        env={**kafka.env, **team_kafka_env(team, address)},
        ports={**kafka.ports, TEAM_PORT: address.port},
        port_hosts={**kafka.port_hosts, TEAM_PORT: address.bind},
    )
    return specs


def alerts_topic(stack: StackConfig) -> str:
    """The topic the stack's Riemann publishes every alert to ("" for none): `[stack.services.
    riemann] env` ALERTS_TOPIC when written there, else `[stack] alerts_topic` (the team
    profile's teammates read it: never empty there). The lite profile runs no Riemann."""
    override = stack.services.get("riemann")
    on = override.enabled if override is not None and override.enabled is not None else None
    if on is False or (on is None and "riemann" not in PROFILES[stack.profile]):
        return ""
    if override is not None and "ALERTS_TOPIC" in override.env:
        return override.env["ALERTS_TOPIC"].strip()
    if stack.profile == "team":
        return stack.alerts_topic or TEAM_ALERTS_TOPIC
    return stack.alerts_topic


def resolve(
    stack: StackConfig,
    listener: AlertEndpoint,
    team: TeamMaterial | None = None,
    kinds: KindRules | None = None,
) -> list[ServiceSpec]:
    """The effective, enabled specs in declaration order: profile, then overrides. The team
    profile needs `team` (stack/team.py `material_for`); `kinds` is the user's [kinds] (None:
    the built-in defaults, the engine's), which Riemann follows as KINDS_* values."""
    if not _NAME_RE.match(stack.name):
        raise LogtrayError(
            f"[stack] name = {stack.name!r} is not a valid Docker name",
            fix="use letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    specs = builtin_specs(listener)
    if stack.profile == "team":
        specs = _with_team(specs, stack, team)
    riemann = specs["riemann"]
    topic = stack.alerts_topic or (TEAM_ALERTS_TOPIC if stack.profile == "team" else "")
    kinds_values = kinds_env(kinds) if kinds is not None else {}
    specs["riemann"] = replace(riemann, env={**riemann.env, "ALERTS_TOPIC": topic, **kinds_values})
    unknown = sorted(set(stack.services) - set(specs))
    if unknown:
        raise LogtrayError(
            f"[stack.services] has unknown service(s): {', '.join(unknown)}",
            fix=f"use one of: {', '.join(specs)}",
        )
    enabled = set(PROFILES[stack.profile])
    out: list[ServiceSpec] = []
    for name, spec in specs.items():
        override = stack.services.get(name)
        if override is not None and override.enabled is not None:
            on = override.enabled
        else:
            on = name in enabled
        if not on:
            continue
        if override is not None:
            changes: dict[str, object] = {}
            if override.image:
                changes["image"] = override.image
                changes["build"] = None  # a user's own image is used as it is
            if override.env:
                changes["env"] = {**spec.env, **override.env}
            if override.ports:
                ports = dict(spec.ports)
                for port, host in override.ports.items():
                    ports[_port_key(port)] = host
                changes["ports"] = ports
            if override.command is not None:
                changes["command"] = override.command
            hc = spec.healthcheck
            if override.healthcheck is not None:
                # An empty list turns the healthcheck off.
                test = tuple(override.healthcheck)
                hc = None if not test else replace(hc or Healthcheck(test=test), test=test)
                if hc is not None and hc.test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                    hc = replace(hc, test=("CMD", *hc.test))
            if hc is not None and override.healthcheck_interval_s is not None:
                hc = replace(hc, interval_s=override.healthcheck_interval_s)
            changes["healthcheck"] = hc
            if override.mem_limit:
                changes["mem_limit"] = override.mem_limit
            spec = replace(spec, **changes)  # type: ignore[arg-type]
            if name == "kafka" and "KAFKA_ADVERTISED_LISTENERS" not in override.env:
                spec = _advertise_host_port(spec)
        out.append(spec)
    names = {s.name for s in out}
    # A dependency that is not enabled is dropped: its dependents start without it.
    return [replace(s, depends_on=tuple(d for d in s.depends_on if d in names)) for s in out]


def _advertise_host_port(kafka: ServiceSpec) -> ServiceSpec:
    """Host clients connect to what Kafka advertises: keep EXTERNAL on the published port."""
    host_port = kafka.ports.get("9094/tcp")
    listeners = kafka.env.get("KAFKA_ADVERTISED_LISTENERS", "")
    if not host_port or "EXTERNAL://localhost:9094" not in listeners:
        return kafka
    fixed = listeners.replace("EXTERNAL://localhost:9094", f"EXTERNAL://localhost:{host_port}")
    return replace(kafka, env={**kafka.env, "KAFKA_ADVERTISED_LISTENERS": fixed})


def needs_pinned_port(kafka: ServiceSpec) -> bool:
    """Kafka published on "any free port" (0) while it advertises localhost:9094 to host
    clients: the port the engine would pick is one Kafka cannot know when it starts, and every
    client would be sent on to 9094. `pin_host_port` fixes the port before it is created."""
    return (
        kafka.name == "kafka"
        and kafka.ports.get(KAFKA_HOST_PORT) == 0
        and "EXTERNAL://localhost:9094" in kafka.env.get("KAFKA_ADVERTISED_LISTENERS", "")
    )


def pin_host_port(kafka: ServiceSpec, port: int) -> ServiceSpec:
    """The spec a Kafka that `needs_pinned_port` is created from: published on `port` (a free
    one, picked just before) and advertising it. The container keeps the spec hash of the
    unpinned spec, so the next `up` adopts it on the port it got."""
    if not needs_pinned_port(kafka):
        return kafka
    return _advertise_host_port(replace(kafka, ports={**kafka.ports, KAFKA_HOST_PORT: port}))


def spec_hash(spec: ServiceSpec, extra: Mapping[str, str] | None = None) -> str:
    """A stable fingerprint of what a container is created from. `extra` carries what is not
    in the spec but changes the container: the image id, digests of bind-mounted files."""
    data = asdict(spec)
    data["extra"] = dict(sorted((extra or {}).items()))
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def start_layers(specs: Sequence[ServiceSpec]) -> list[list[str]]:
    """Services grouped so each group depends only on earlier groups (Kahn's algorithm)."""
    deps = {s.name: set(s.depends_on) for s in specs}
    missing = {d for ds in deps.values() for d in ds} - set(deps)
    if missing:
        raise ValueError(f"unknown dependencies: {sorted(missing)}")
    order = [s.name for s in specs]
    layers: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(order):
        layer = [n for n in order if n not in done and deps[n] <= done]
        if not layer:
            cycle = sorted(set(order) - done)
            raise LogtrayError(f"the stack's services depend on each other in a cycle: {cycle}")
        layers.append(layer)
        done.update(layer)
    return layers


def parse_mem(value: str) -> int:
    """Docker's memory notation ("512m", "1g", "1024k", "1073741824") in bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*", value.lower())
    if not m:
        raise LogtrayError(f"memory limit {value!r} is not valid", fix="write e.g. 512m or 1g")
    scale = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2)]
    return int(float(m.group(1)) * scale)
