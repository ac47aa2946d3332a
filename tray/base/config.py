"""The one typed config: defaults < TOML file < LOGTRAY_* environment < command-line flags.

It is loaded once at start (`load_config`) and passed explicitly; nothing reads settings from
anywhere else. Unknown keys warn (a typo must not silently do nothing); a bad value fails with
the file, the key and the expected form.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import secrets
import shlex
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from logtray.stack.config import KAFKA_TOPIC, StackConfig
from logtray.stack.ship.config import ShipConfig
from logtray.tray.base import paths
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.links import is_web_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

log = logging.getLogger(__name__)

NotifierBackend = Literal["auto", "desktop", "plyer", "console"]
# aiokafka's security_protocol and sasl_mechanism values.
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class ListenerConfig:
    port: int = 10000
    # Empty means automatic: 127.0.0.1, plus the Docker bridge gateway on Linux when it exists.
    hosts: tuple[str, ...] = ()
    max_connections: int = 256
    # Senders that are not on this machine share at most this many of the slots, and one
    # such address holds at most max_peer_connections (loopback senders always find a slot).
    max_remote_connections: int = 64
    max_peer_connections: int = 16
    idle_timeout_s: float = 300.0
    # A line must be complete this long after its first byte (slow senders cannot hold a slot).
    line_timeout_s: float = 30.0
    max_line_bytes: int = 65536
    # A non-loopback connection must send a line with the token this soon, or it is closed
    # (until then it is the first closed at any connection cap).
    auth_timeout_s: float = 5.0
    # Shared secret that non-loopback senders must include; generated on first run.
    token: str = ""


@dataclass(frozen=True)
class AlertsConfig:
    # Repeats of one key within this time update one notification instead of popping new ones.
    cooldown_s: float = 60.0
    # An in-place update of one notification happens at most this often (later ones merge).
    update_interval_s: float = 5.0
    # More than storm_keys new keys within storm_window_s become one summary notification.
    storm_keys: int = 5
    storm_window_s: float = 10.0
    history_size: int = 1000
    # On start, what a reader (the alerts topic, the engine) missed since its last committed
    # position is read up to this old (seconds) and at most this many records; the rest is
    # skipped and counted in the "while you were away" summary.
    catch_up_max_age: float = 86400.0
    catch_up_max_records: int = 1000


@dataclass(frozen=True)
class NotifierConfig:
    backend: NotifierBackend = "auto"


@dataclass(frozen=True)
class KibanaConfig:
    url: str = "http://127.0.0.1:5601"
    data_view: str = "program-logs"
    # The Discover time range opened for an alert: this much before and after it.
    before_s: float = 900.0
    after_s: float = 300.0
    # URL prefixes (besides `url`) that an alert's own `url` may point to; others are ignored.
    allowed_url_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KafkaConnection:
    """Where a Kafka is and how to reach it: the keys [engine] and [alerts_topic] share.

    Each section takes them as its own keys (`[alerts_topic] bootstrap`, not a sub-table);
    `security_options` (tray/alerts/kafka_source.py) turns them into aiokafka's options."""

    bootstrap: str = "127.0.0.1:9094"
    # aiokafka's security options: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = ""
    # A CA bundle for SSL; empty uses the system's trust store.
    ssl_cafile: str = ""
    # A client certificate and its key (PEM), for a broker that asks for one; empty: none.
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    # The keys `config show` never prints.
    SECRETS: ClassVar[tuple[str, ...]] = ("sasl_password",)


@dataclass(frozen=True)
class EngineConfig(KafkaConnection):
    """The embedded rule engine (lite profile): the same spike rule as riemann.config."""

    topic: str = "program-logs"
    # Events are grouped by this field; only events whose `level` equals `level` count.
    group_by: str = "pathname"
    level: str = "error"
    window_s: float = 10.0
    # More than this many events in one window alerts (at the crossing).
    threshold: int = 25
    # After an alert, the same group stays quiet this long.
    throttle_s: float = 30.0  # the same as riemann.config's THROTTLE_S default
    # Evidence: the last error records kept per source file, for the alert's sample
    # and the error view (at least threshold + 1 are kept); 0 turns evidence off.
    evidence_records: int = 50
    # ... for at most this many files the rule watches, and as many it stopped watching (the
    # least recently failing goes first). Memory: docs/pipeline.md.
    evidence_files: int = 50
    # Publish every alert to [alerts_topic] topic on this Kafka (a team's engine), with the
    # connection keys (the same as [alerts_topic]'s; they apply to reading the logs too).
    publish: bool = False


@dataclass(frozen=True)
class KindsSettings:
    """Error kinds: a new kind of error, or a resolved one back, told at once (the engine's;
    the stack passes them to Riemann too: stack/specs.py `kinds_env`)."""

    enabled: bool = True
    # The compacted Kafka topic the known kinds are kept in (beside [engine] topic).
    topic: str = "logtray-kinds"
    # A service seen for the first time: its kinds of this long are learned, told once.
    learn_s: float = 30.0
    # More new kinds of one service than this within burst_s: folded into one summary.
    burst_max: int = 5
    burst_s: float = 60.0
    # Kinds kept at most (the least recently seen forgotten first).
    max_kinds: int = 10_000


@dataclass(frozen=True)
class EditorConfig:
    """Open in editor: where the sources of the paths alerts name are on this machine."""

    # Folders holding checkouts, e.g. ["~/src/payments"]: a path from a container or another
    # machine (/srv/app/go-zap/payments.go) opens the first file its trailing components name
    # under one of them, longest first (~/src/payments/go-zap/payments.go).
    roots: tuple[str, ...] = ()
    # e.g. {"/app" = "~/src/payments"}: /app/pay.py opens ~/src/payments/pay.py (tried first)
    paths: dict[str, str] = field(default_factory=dict)
    # A URL template, e.g. "vscode://file/{path}:{line}"; empty: run `command`.
    url: str = ""
    # The editor command ("+LINE" and the file are added); empty: $VISUAL, then $EDITOR.
    command: str = ""


@dataclass(frozen=True)
class AlertsTopicConfig(KafkaConnection):
    """Alerts from a shared Kafka topic (a team's Riemann or engine publishes them there)."""

    enabled: bool = False
    topic: str = "logtray-alerts"
    # What this desktop wants of the team's alerts (all that are set must match; empty: all).
    # Service names; globs on the alert's pathname (`*` also matches `/`); a least count.
    services: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    min_count: int = 0
    # A CODEOWNERS file and my handle (e.g. "@alice"): the alerts of the files I own.
    owners_file: str = ""
    owner: str = ""
    # Taken off the alert's pathname before `paths` and CODEOWNERS look at it, e.g. "/app/"
    # for a container's /app/payments/charge.py -> payments/charge.py.
    path_prefix: str = ""
    # On a first start (no committed position yet), the alerts of this many seconds before it
    # are shown as one summary (0: off); later starts read on from their position ([alerts]).
    catch_up_s: float = 3600.0


@dataclass(frozen=True)
class TrayConfig:
    # Quit stops the stack too (otherwise it keeps running for the next start).
    stop_stack_on_quit: bool = False


ConfigLayer = Literal["file", "environment", "command line"]


@dataclass(frozen=True)
class Origin:
    """Where a setting was written: the config file (its path), an environment variable (its
    name) or the command line. A setting with no Origin is its default."""

    layer: ConfigLayer
    name: str

    def __str__(self) -> str:
        if self.layer == "file":
            return self.name
        if self.layer == "environment":
            return f"the environment ({self.name})"
        return "the command line"


@dataclass(frozen=True)
class Config:
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    notifier: NotifierConfig = field(default_factory=NotifierConfig)
    kibana: KibanaConfig = field(default_factory=KibanaConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    kinds: KindsSettings = field(default_factory=KindsSettings)
    alerts_topic: AlertsTopicConfig = field(default_factory=AlertsTopicConfig)
    editor: EditorConfig = field(default_factory=EditorConfig)
    tray: TrayConfig = field(default_factory=TrayConfig)
    stack: StackConfig = field(default_factory=StackConfig)
    ship: ShipConfig = field(default_factory=ShipConfig)
    # Where the file layer came from (it may not exist yet).
    path: Path = field(default_factory=paths.config_file, compare=False)
    # (section, key) -> where the layer that set it last wrote it; a key not here is its
    # default (`written_in`). Keys of tables inside a section are not tracked one by one.
    written: Mapping[tuple[str, str], Origin] = field(default_factory=dict, compare=False)

    def written_in(self, section: str, key: str) -> Origin | None:
        """Where `[section] key` was written (file, environment or command line), or None when
        nothing set it: then it is its default, and a better-informed value may stand in (the
        stack's Kafka where it is published, tray/base/kafka_address.py)."""
        return self.written.get((section, key))


SECTIONS: dict[str, type[Any]] = {
    "listener": ListenerConfig,
    "alerts": AlertsConfig,
    "notifier": NotifierConfig,
    "kibana": KibanaConfig,
    "engine": EngineConfig,
    "kinds": KindsSettings,
    "alerts_topic": AlertsTopicConfig,
    "editor": EditorConfig,
    "tray": TrayConfig,
    "stack": StackConfig,
    "ship": ShipConfig,
}


_Check = tuple[typing.Callable[[Any], bool], str]


class ConfigError(LogtrayError):
    """A bad config value: names where it came from, the key, and the expected form."""


DAY_S = 86400.0
# A config file is read up to this size; a bigger one (or /dev/zero) is an error.
MAX_CONFIG_BYTES = 1024 * 1024


def _between(low: float, high: float, what: str = "a number of seconds") -> _Check:
    return (lambda v: low <= v <= high, f"{what} from {low:g} to {high:g}")


def _seconds(low: float, high: float, low_open: bool = False) -> _Check:
    if low_open:
        return (lambda v: low < v <= high, f"a number of seconds > {low:g} and <= {high:g}")
    return _between(low, high)


def _ints(low: int, high: int) -> _Check:
    return (lambda v: low <= v <= high, f"an integer from {low} to {high}")


# A host in a bootstrap list: a DNS name or IPv4 address (Docker's names may hold "_"), or an
# IPv6 address in brackets, as aiokafka reads it (aiokafka/conn.py get_ip_port_afi).
_HOST_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_BOOTSTRAP_ENTRY = re.compile(
    rf"(?:(?P<name>(?=.{{1,253}}:){_HOST_LABEL}(?:\.{_HOST_LABEL})*)|\[(?P<ipv6>[^\]]+)\])"
    r":(?P<port>[0-9]{1,5})"
)


def _is_bootstrap(value: str) -> bool:
    """`value` is a comma-separated list of host:port with a port from 1 to 65535 each, as
    aiokafka takes it. aiokafka would take "" or a host without a port too (port 9092) and
    fail later, or reach a Kafka nobody meant: the port is asked for."""
    for entry in value.split(","):
        m = _BOOTSTRAP_ENTRY.fullmatch(entry.strip())
        if m is None or not 1 <= int(m["port"]) <= 65535:
            return False
        if m["ipv6"] is not None:
            try:
                ipaddress.IPv6Address(m["ipv6"])
            except ValueError:
                return False
    return True


_BOOTSTRAP_FORM = (
    'a list of host:port, e.g. "127.0.0.1:9094" or "kafka1:9092,kafka2:9092" '
    '(an IPv6 address in brackets: "[::1]:9094")'
)


# Range checks beyond the type: (section, key) -> (predicate, expected form). Every number
# has one (tests/test_config.py checks that): an absurd value fails at start with a sentence,
# not later with a traceback in the alert path (e.g. a Kibana time range past the year 9999).
_CHECKS: dict[tuple[str, str], _Check] = {
    ("listener", "port"): _ints(1, 65535),
    ("listener", "max_connections"): _ints(1, 100_000),
    ("listener", "max_remote_connections"): _ints(0, 100_000),
    ("listener", "max_peer_connections"): _ints(1, 100_000),
    ("listener", "idle_timeout_s"): _seconds(0, DAY_S, low_open=True),
    ("listener", "line_timeout_s"): _seconds(0, DAY_S, low_open=True),
    ("listener", "max_line_bytes"): _ints(256, 16 * 1024 * 1024),
    ("listener", "auth_timeout_s"): _seconds(0, 3600, low_open=True),
    ("alerts", "cooldown_s"): _seconds(0, DAY_S),
    ("alerts", "update_interval_s"): _seconds(0, 3600),
    ("alerts", "storm_keys"): _ints(1, 10_000),
    ("alerts", "storm_window_s"): _seconds(0, 3600, low_open=True),
    ("alerts", "history_size"): _ints(1, 100_000),
    # At most a day: an alert time further than that from its receipt is not trusted (alert.py).
    ("alerts", "catch_up_max_age"): _seconds(0, DAY_S),
    ("alerts", "catch_up_max_records"): _ints(0, 1_000_000),
    ("kibana", "url"): (is_web_url, "an http:// or https:// URL"),
    ("kibana", "allowed_url_prefixes"): (
        lambda v: all(is_web_url(p) for p in v),
        "a list of http:// or https:// URL prefixes",
    ),
    ("engine", "bootstrap"): (_is_bootstrap, _BOOTSTRAP_FORM),
    ("alerts_topic", "bootstrap"): (_is_bootstrap, _BOOTSTRAP_FORM),
    ("engine", "evidence_records"): _ints(0, 10_000),
    ("engine", "evidence_files"): _ints(1, 10_000),
    ("kinds", "learn_s"): _seconds(0, DAY_S),
    ("kinds", "burst_max"): _ints(1, 10_000),
    ("kinds", "burst_s"): _seconds(0, DAY_S, low_open=True),
    ("kinds", "max_kinds"): _ints(1, 1_000_000),
    ("editor", "command"): (
        lambda v: _splits(v),
        'a command line with balanced quotes, e.g. "code --goto" or "vim"',
    ),
    ("editor", "paths"): (
        lambda v: all(os.path.isabs(os.path.expanduser(folder)) for folder in v.values()),
        'container prefixes mapped to absolute local folders, e.g. {"/app" = "~/src/app"}',
    ),
    ("editor", "roots"): (
        lambda v: all(os.path.isabs(os.path.expanduser(folder)) for folder in v),
        'absolute local folders (or ~/...), e.g. ["~/src/payments"]',
    ),
    ("editor", "url"): (
        lambda v: not v or ("{path}" in v and _editor_scheme_ok(v)),
        'empty, or a URL template with {path} (and {line}), e.g. "vscode://file/{path}:{line}"',
    ),
    ("kibana", "before_s"): _seconds(0, 365 * DAY_S),
    ("kibana", "after_s"): _seconds(0, 365 * DAY_S),
    ("engine", "window_s"): _seconds(0, DAY_S, low_open=True),
    ("alerts_topic", "min_count"): _ints(0, 1_000_000_000),
    ("alerts_topic", "catch_up_s"): _seconds(0, 7 * DAY_S),
    ("engine", "threshold"): _ints(1, 1_000_000_000),
    ("engine", "throttle_s"): _seconds(0, DAY_S),
    ("stack", "ready_timeout_s"): _seconds(0, 7 * DAY_S, low_open=True),
    ("stack", "heartbeat_s"): _seconds(0, DAY_S),
    ("stack", "max_alert_delay_s"): _seconds(0, DAY_S, low_open=True),
    ("stack", "team_port"): _ints(1, 65535),
    ("stack", "alerts_topic"): (
        lambda v: not v or (KAFKA_TOPIC.fullmatch(v) is not None and v not in (".", "..")),
        'empty (off) or a Kafka topic name: up to 249 letters, digits, ".", "_" or "-"',
    ),
    # At least a minute (Kafka refuses less than 1 ms; under a minute nothing would be kept
    # long enough to catch up), at most a year.
    ("stack", "alerts_retention_s"): _seconds(60, 365 * DAY_S),
    ("ship", "buffer_bytes"): _ints(64 * 1024, 1024 * 1024 * 1024),
    ("ship", "max_entry_lines"): _ints(1, 100_000),
    ("ship", "max_entry_bytes"): _ints(1024, 16 * 1024 * 1024),
    ("ship", "max_containers"): _ints(1, 1000),
    ("ship", "first_look_back_s"): _seconds(0, 365 * DAY_S),
    ("ship", "labels"): (
        lambda v: all(item.partition("=")[0].strip() for item in v),
        'labels as "key=value" or "key", e.g. ["logtray.logs=true"]',
    ),
    # Tables inside sections are checked by their class name.
    ("ServiceOverride", "ports"): (
        lambda v: all(0 <= p <= 65535 for p in v.values()),
        "host ports from 0 (any free port) to 65535",
    ),
    ("ServiceOverride", "healthcheck_interval_s"): _seconds(0, DAY_S, low_open=True),
}


def check_option(option: str, value: Any, section: str, key: str) -> Any:
    """`value`, given as a command's `option` for what `[section] key` holds elsewhere (e.g.
    `team invite --bootstrap`: the teammate's [alerts_topic] bootstrap), checked as
    load_config checks that key, so a bad one is the same sentence, not a failure later."""
    test, form = _CHECKS[(section, key)]
    if not test(value):
        raise ConfigError(
            f"command line: {option} {value!r} is not valid: expected {form}",
            fix=f"correct {option} or leave it out",
        )
    return value


def _splits(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:  # an unbalanced quote
        return False
    return True


def _editor_scheme_ok(template: str) -> bool:
    # An editor's own scheme (vscode://, idea://, ...): never a script or a web page.
    scheme, sep, _ = template.partition(":")
    return (
        bool(sep)
        and scheme.isascii()
        and scheme.replace("-", "").replace("+", "").replace(".", "").isalnum()
        and scheme.lower() not in ("javascript", "data", "vbscript", "http", "https")
    )


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"a table of {_describe(get_args(tp)[1])}"
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _describe(inner[0])
    if dataclasses.is_dataclass(tp):
        return "a table"
    return str(tp)


def _coerce(value: Any, tp: Any, where: str, from_text: bool) -> Any:
    """Turn a TOML value (or an environment string when from_text) into type tp, or fail."""

    def bad() -> ConfigError:
        return ConfigError(
            f"{where} = {value!r} is not valid: expected {_describe(tp)}",
            fix="correct or remove this setting (`logtray config show` prints what is in effect)",
        )

    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, inner[0], where, from_text)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_text and str(value).strip().lower() in ("0", "false", "no", "off"):
            return False
        raise bad()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_text:
            try:
                return int(str(value).strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_text:
            try:
                return float(str(value).strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad()
    if origin is tuple:
        if from_text and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise bad()
        item_type = get_args(tp)[0]
        return tuple(_coerce(v, item_type, f"{where}[{i}]", from_text) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad()
        value_type = get_args(tp)[1]
        return {str(k): _coerce(v, value_type, f"{where}.{k}", from_text) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise bad()
        return _build(tp, value, where, from_text)
    raise TypeError(f"config type not handled: {tp}")  # a bug in this module, not user input


def _build(cls: Any, table: Mapping[str, Any], where: str, from_text: bool) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in table.items():
        if key not in known:
            log.warning(
                "%s: unknown key %r ignored (known: %s)", where, key, ", ".join(sorted(known))
            )
            continue
        coerced = _coerce(value, hints[key], f"{where}.{key}", from_text)
        check = _CHECKS.get((cls.__name__, key))
        if check and coerced is not None and not check[0](coerced):
            raise ConfigError(
                f"{where}.{key} = {value!r} is not valid: expected {check[1]}",
                fix="correct or remove this setting",
            )
        kwargs[key] = coerced
    return cls(**kwargs)


def _merge_section(
    base: Any, section: str, table: Mapping[str, Any], where: str, from_text: bool
) -> Any:
    cls = type(base)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            log.warning(
                "%s: unknown key [%s] %s ignored (known: %s)",
                where,
                section,
                key,
                ", ".join(sorted(known)),
            )
            continue
        label = f"{where}: [{section}] {key}"
        coerced = _coerce(value, hints[key], label, from_text)
        check = _CHECKS.get((section, key))
        if check and not check[0](coerced):
            raise ConfigError(
                f"{label} = {value!r} is not valid: expected {check[1]}",
                fix="correct or remove this setting",
            )
        changes[key] = coerced
    return dataclasses.replace(base, **changes)


def _apply(
    config: Config,
    layer: Mapping[str, Any],
    where: str,
    from_text: bool,
    origin: Callable[[str, str], Origin],
) -> Config:
    changes: dict[str, Any] = {}
    written = dict(config.written)
    for section, table in layer.items():
        if section not in SECTIONS:
            log.warning(
                "%s: unknown section [%s] ignored (known: %s)", where, section, ", ".join(SECTIONS)
            )
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [{section}] must be a table", fix="see the README")
        base = getattr(config, section)
        changes[section] = _merge_section(base, section, table, where, from_text)
        known = {f.name for f in dataclasses.fields(base)}
        written.update({(section, key): origin(section, key) for key in table if key in known})
    return dataclasses.replace(config, **changes, written=written)


def _env_layer(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """LOGTRAY_<SECTION>_<KEY>=value, e.g. LOGTRAY_LISTENER_PORT=10001."""
    layer: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith("LOGTRAY_") or name in ("LOGTRAY_CONFIG",):
            continue
        rest = name[len("LOGTRAY_") :].lower()
        # Longest name first: LOGTRAY_ALERTS_TOPIC_ENABLED is [alerts_topic], not [alerts].
        for section in sorted(SECTIONS, key=len, reverse=True):
            if rest.startswith(section + "_"):
                layer.setdefault(section, {})[rest[len(section) + 1 :]] = value
                break
        else:
            log.warning("environment: unknown variable %s ignored", name)
    return layer


def load_config(
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Config:
    """Build the effective config. `flags` is {section: {key: value}} from the command line."""
    environ = os.environ if environ is None else environ
    path = path or paths.config_file()
    config = Config(path=path)
    if path.exists():
        try:
            data = tomllib.loads(_read_bounded(path).decode("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML: {exc}", fix="fix the syntax or move the file away"
            ) from None
        except RecursionError:
            raise ConfigError(
                f"{path} is not valid TOML: arrays or tables nested too deeply",
                fix="fix the file or move it away",
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid UTF-8 (byte {exc.start}): TOML files must be UTF-8",
                fix="save the file as UTF-8 or move it away",
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        in_file = Origin("file", str(path))
        config = _apply(config, data, str(path), False, lambda section, key: in_file)
    config = _apply(
        config,
        _env_layer(environ),
        "environment LOGTRAY_*",
        True,
        lambda section, key: Origin("environment", f"LOGTRAY_{section}_{key}".upper()),
    )
    if flags:
        on_flags = Origin("command line", "")
        config = _apply(config, flags, "command line", False, lambda section, key: on_flags)
    return config


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, at most MAX_CONFIG_BYTES (more is a ConfigError, not a slow read of
    gigabytes)."""
    with path.open("rb") as file:
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is over {MAX_CONFIG_BYTES // 1024} KiB: not a logtray config file",
            fix="point LOGTRAY_CONFIG at the config file, or move this one away",
        )
    return data


def ensure_token(config: Config) -> Config:
    """Generate the listener token on first run and keep it in the config file."""
    if config.listener.token:
        return config
    import tomlkit  # only to write (keeps the user's comments); ~4 MB a running tray never needs

    token = secrets.token_urlsafe(24)
    path = config.path
    try:
        doc = (
            tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
        )
        if "listener" not in doc:
            doc["listener"] = tomlkit.table()
        listener = doc["listener"]
        assert isinstance(listener, tomlkit.items.Table)
        listener["token"] = token
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tomlkit.dumps(doc), encoding="utf-8")
        path.chmod(0o600)  # the token is a secret
    except OSError as exc:
        raise ConfigError(
            f"cannot save the listener token to {path}: {exc.strerror}",
            fix="make the config directory writable, or set [listener] token yourself",
        ) from None
    log.info("generated a listener token in %s", path)
    return dataclasses.replace(config, listener=dataclasses.replace(config.listener, token=token))


# Values `config show` never prints (they stay in the file, or the environment).
SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "listener": ("token",),
    **{
        section: KafkaConnection.SECRETS
        for section, cls in SECTIONS.items()
        if issubclass(cls, KafkaConnection)
    },
}


def to_toml(
    config: Config,
    hide_secrets: bool = True,
    in_effect: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> str:
    """The effective config as TOML (for `logtray config show`). `in_effect` maps (section,
    key) to (value, where it came from) for values the config alone does not decide (the
    stack's Kafka where it is published): the value is printed with its origin as a comment."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"effective config; file layer: {config.path}"))
    for section in SECTIONS:
        value = dataclasses.asdict(getattr(config, section))
        for secret in SECRET_KEYS.get(section, ()):
            if hide_secrets and value.get(secret):
                value[secret] = "<hidden: see the config file>"
        doc[section] = _plain(value)
    for (section, key), (shown, origin) in (in_effect or {}).items():
        table = doc[section]
        assert isinstance(table, tomlkit.items.Table)
        table[key] = shown
        table[key].comment(origin)
    return tomlkit.dumps(doc)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
