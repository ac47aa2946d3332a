"""Which Kafka the stack's readers use: `[engine] bootstrap` when written, else the port the
stack's kafka container publishes, else the default (tray/base/kafka_address.py); how the
config says a key was written; and the tray following the address as Kafka starts again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtray.stack.published import host_port
from logtray.stack.specs import KAFKA_HOST_PORT, needs_pinned_port, pin_host_port, resolve
from logtray.tray.base.config import Config, ListenerConfig, Origin, load_config
from logtray.tray.base.kafka_address import KafkaAddress, choose_kafka
from logtray.tray.desktop.state import ServiceView

DEFAULT = "127.0.0.1:9094"
IN_FILE = Origin("file", "/home/me/.config/logtray/config.toml")


# -- the decision ---------------------------------------------------------------------------------
def test_a_written_bootstrap_wins_over_the_published_port() -> None:
    chosen = choose_kafka("kafka.team.example:9093", IN_FILE, 41234, container="logtray-kafka")
    assert chosen == KafkaAddress("kafka.team.example:9093", "config", str(IN_FILE))
    assert chosen.describe() == (
        "kafka.team.example:9093 ([engine] bootstrap from /home/me/.config/logtray/config.toml)"
    )
    # Written with the default's own value: still the user's choice.
    assert choose_kafka(DEFAULT, IN_FILE, 41234).source == "config"


def test_unwritten_the_port_the_stack_publishes() -> None:
    chosen = choose_kafka(DEFAULT, None, 41234, container="logtray-kafka")
    assert chosen == KafkaAddress("127.0.0.1:41234", "stack", "logtray-kafka")
    assert chosen.describe() == (
        "127.0.0.1:41234 (published by the stack's kafka container logtray-kafka)"
    )


def test_unwritten_and_no_stack_the_default_with_why() -> None:
    chosen = choose_kafka(DEFAULT, None, None)
    assert (chosen.bootstrap, chosen.source) == (DEFAULT, "default")
    assert chosen.describe() == (
        "127.0.0.1:9094 (the default: [engine] bootstrap is not set and the stack's kafka is "
        "not running)"
    )
    absent = "Docker is not available"
    assert choose_kafka(DEFAULT, None, None, absent=absent).describe().endswith(f"and {absent})")


@pytest.mark.parametrize("junk", [0, -1, 65536, 10**9])
def test_a_port_no_one_can_connect_to_is_not_used(junk: int) -> None:
    assert choose_kafka(DEFAULT, None, junk) == choose_kafka(DEFAULT, None, None)


@given(
    configured=st.text(min_size=1, max_size=40),
    written=st.none() | st.builds(Origin, st.sampled_from(["file", "environment"]), st.text()),
    port=st.none() | st.integers(-10, 70_000),
)
def test_the_decision_in_general(configured: str, written: Origin | None, port: int | None) -> None:
    chosen = choose_kafka(configured, written, port)
    published = port is not None and 0 < port < 65536
    if written is not None:
        assert (chosen.bootstrap, chosen.source) == (configured, "config")
    elif published:
        assert (chosen.bootstrap, chosen.source) == (f"127.0.0.1:{port}", "stack")
    else:
        assert (chosen.bootstrap, chosen.source) == (configured, "default")
    assert chosen.describe().startswith(chosen.bootstrap + " (")


# -- where a key was written ----------------------------------------------------------------------
def test_the_config_says_where_each_key_was_written(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert load_config(path=path, environ={}).written_in("engine", "bootstrap") is None
    path.write_text('[engine]\ntopic = "logs"\nnot_a_key = 1\n')
    config = load_config(path=path, environ={})
    assert config.written_in("engine", "bootstrap") is None  # its section is, it is not
    assert config.written_in("engine", "topic") == Origin("file", str(path))
    assert config.written_in("engine", "not_a_key") is None  # warned about and ignored
    path.write_text('[engine]\nbootstrap = "127.0.0.1:9094"\n')
    config = load_config(path=path, environ={})
    assert config.written_in("engine", "bootstrap") == Origin("file", str(path))
    assert str(config.written_in("engine", "bootstrap")) == str(path)
    # A later layer wins, and says so.
    env = {"LOGTRAY_ENGINE_BOOTSTRAP": "10.0.0.5:9092"}
    config = load_config(path=path, environ=env)
    origin = config.written_in("engine", "bootstrap")
    assert origin == Origin("environment", "LOGTRAY_ENGINE_BOOTSTRAP")
    assert str(origin) == "the environment (LOGTRAY_ENGINE_BOOTSTRAP)"
    config = load_config({"engine": {"bootstrap": "h:1"}}, path=path, environ=env)
    assert str(config.written_in("engine", "bootstrap")) == "the command line"
    assert config.engine.bootstrap == "h:1"
    # The longer section's variable: [alerts_topic], not [alerts].
    env = {"LOGTRAY_ALERTS_TOPIC_BOOTSTRAP": "t:1"}
    origin = load_config(path=path, environ=env).written_in("alerts_topic", "bootstrap")
    assert origin == Origin("environment", "LOGTRAY_ALERTS_TOPIC_BOOTSTRAP")
    # A config made in code has nothing written; comparing configs ignores it.
    assert Config().written_in("engine", "bootstrap") is None
    assert load_config(path=tmp_path / "none.toml", environ={}) == Config(path=tmp_path)


# -- the stack side: the published port, and Kafka on "any free port" ------------------------------
@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ({"9094/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41234"}]}, 41234),
        ({"9094/tcp": [{"HostIp": "::1", "HostPort": ""}, {"HostPort": "5"}]}, 5),
        ({"9094/tcp": None}, None),  # exposed, not published
        ({"9094/tcp": [{"HostPort": "x"}, {"HostPort": "0"}, {"HostPort": "99999"}]}, None),
        ({"9094/tcp": [None, {"HostPort": None}]}, None),
        ({"9200/tcp": [{"HostPort": "9200"}]}, None),
        (None, None),  # a stopped container has no mapping
    ],
)
def test_the_published_port_from_inspect_data(ports: Any, expected: int | None) -> None:
    assert host_port({"NetworkSettings": {"Ports": ports}}, KAFKA_HOST_PORT) == expected
    assert host_port({}, KAFKA_HOST_PORT) is None


def _kafka(**services: Any) -> Any:
    from logtray.stack.config import ServiceOverride, StackConfig

    overrides = {"kafka": ServiceOverride(**services)}
    return resolve(StackConfig(profile="lite", services=overrides), ListenerConfig())[0]


def test_kafka_on_any_free_port_is_created_on_one_it_advertises() -> None:
    kafka = _kafka(ports={"9094": 0})
    assert needs_pinned_port(kafka)
    pinned = pin_host_port(kafka, 41234)
    assert pinned.ports[KAFKA_HOST_PORT] == 41234
    listeners = pinned.env["KAFKA_ADVERTISED_LISTENERS"]
    assert "EXTERNAL://localhost:41234" in listeners and "PLAINTEXT://kafka:9092" in listeners
    # A port written in the config is advertised already (and published as it is).
    fixed = _kafka(ports={"9094": 19094})
    assert not needs_pinned_port(fixed) and pin_host_port(fixed, 41234) == fixed
    # The user's own advertised listeners are theirs.
    own = _kafka(ports={"9094": 0}, env={"KAFKA_ADVERTISED_LISTENERS": "EXTERNAL://me:1"})
    assert not needs_pinned_port(own) and pin_host_port(own, 41234) == own


# -- the tray follows the address as Kafka starts again -------------------------------------------
class FakeLink:
    """The app's stack link: only where Kafka is, as the container engine would say."""

    def __init__(self, config: Config, addresses: list[KafkaAddress]) -> None:
        self.config = config
        self.addresses = addresses
        self.reads = 0

    def kafka_address(self) -> KafkaAddress:
        self.reads += 1
        return self.addresses.pop(0)

    def alerts_topic(self) -> str:
        from logtray.stack.specs import alerts_topic

        return alerts_topic(self.config.stack)


class FakeService:
    """The alert service's Kafka side, recording what the app asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.engine: object | None = None
        self.heartbeat: object | None = None
        self.heartbeat_bootstrap: str | None = None
        self.kafka_problems: dict[str, str] = {}
        self.router = None
        self.stack_alerts_running = False

    def start_engine(self, bootstrap: str) -> None:
        self.calls.append(("start engine", bootstrap))
        self.engine = object()

    async def move_engine(self, bootstrap: str) -> None:
        self.calls.append(("move engine", bootstrap))

    def start_heartbeat(self, bootstrap: str, topic: str, rule: str) -> None:
        self.calls.append(("start heartbeat", bootstrap))
        self.heartbeat, self.heartbeat_bootstrap = SimpleNamespace(sent=1), bootstrap

    async def stop_heartbeat(self) -> None:
        self.calls.append(("stop heartbeat", self.heartbeat_bootstrap or ""))
        self.heartbeat, self.heartbeat_bootstrap = None, None

    def start_stack_alerts(self, bootstrap: str, topic: str) -> None:
        self.calls.append(("read alerts", f"{topic} at {bootstrap}"))
        self.stack_alerts_running = True

    async def stop_stack_alerts(self) -> None:
        self.calls.append(("stop alerts", ""))
        self.stack_alerts_running = False


def _stack(kafka: str) -> tuple[ServiceView, ...]:
    return (ServiceView("kafka", kafka, kafka), ServiceView("demo", "running", "running"))


def _at(port: int) -> KafkaAddress:
    return choose_kafka(DEFAULT, None, port, container="logtray-kafka")


def _tray(tmp_path: Path, stack: dict[str, Any], addresses: list[KafkaAddress]) -> Any:
    """A tray app with `stack` as its [stack] section, whose stack link says Kafka is at
    `addresses` in turn; its alert service a FakeService. (app, service, link)"""
    from logtray.tray.desktop.app import TrayApp

    config = load_config(
        {"stack": stack, "listener": {"token": "t"}}, path=tmp_path / "config.toml", environ={}
    )
    link = FakeLink(config, addresses)
    app = TrayApp(config, stack=link)  # type: ignore[arg-type]
    service = FakeService()
    app.service = service  # type: ignore[assignment]
    return app, service, link


async def _settle(app: Any) -> None:
    """Until the app's tasks are done, and those they started."""
    while app._tasks:
        await asyncio.gather(*list(app._tasks))


def test_the_tray_reads_the_address_each_time_kafka_starts(tmp_path: Path) -> None:
    from logtray.stack.incidents import Observation

    gone = choose_kafka(DEFAULT, None, None)
    reads = [_at(41001), _at(41002), _at(41002), _at(41003), gone, _at(41003)]
    app, service, link = _tray(tmp_path, {"profile": "lite"}, reads)

    async def scenario() -> None:
        app._services_changed(_stack("healthy"))  # the tray finds (or adopts) it running
        await _settle(app)
        assert service.calls == [
            ("start engine", "127.0.0.1:41001"),
            ("start heartbeat", "127.0.0.1:41001"),
        ]
        app._services_changed(_stack("healthy"))  # more events while it runs: no new read
        await _settle(app)
        assert link.reads == 1
        # Recreated on another port: absent, starting, then healthy again.
        app._services_changed(_stack("absent"))
        assert app.kafka is None
        app._services_changed(_stack("starting"))
        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert service.calls[2:] == [
            ("move engine", "127.0.0.1:41002"),
            ("stop heartbeat", "127.0.0.1:41001"),
            ("start heartbeat", "127.0.0.1:41002"),
        ]
        # Restarted on the same port: read again, nothing moves.
        app._services_changed(_stack("starting"))
        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert link.reads == 3
        assert service.calls[5:] == [("move engine", "127.0.0.1:41002")]
        assert app.kafka == _at(41002)
        # Its container started (by someone else): read at once, whether or not the tray ever
        # sees it healthy (an engine that runs no health checks), and moved.
        del service.calls[:]
        app._services_changed(_stack("starting"))
        app._observed(Observation("kafka", "started", 1.0))
        await _settle(app)
        assert service.calls == [
            ("move engine", "127.0.0.1:41003"),
            ("stop heartbeat", "127.0.0.1:41002"),
            ("start heartbeat", "127.0.0.1:41003"),  # it ran: it goes on, there
        ]
        # A start whose container is gone by the time it is read: nothing moves.
        app._observed(Observation("kafka", "started", 2.0))
        await _settle(app)
        assert len(service.calls) == 3 and app.kafka == _at(41003)
        app._observed(Observation("demo", "started", 3.0))  # not Kafka: not read
        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert link.reads == 6  # read again as it turns healthy: where it was just read
        assert service.calls[3:] == [("move engine", "127.0.0.1:41003")]  # (the same: stays)
        # A heartbeat that could send nothing yet (Kafka was not taking records when it
        # started) starts again once Kafka is healthy: its first beat goes now.
        link.addresses.append(_at(41003))
        service.heartbeat.sent = 0  # type: ignore[attr-defined]
        app._services_changed(_stack("starting"))
        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert service.calls[4:] == [
            ("move engine", "127.0.0.1:41003"),
            ("stop heartbeat", "127.0.0.1:41003"),
            ("start heartbeat", "127.0.0.1:41003"),
        ]

    asyncio.run(scenario())


def test_a_stack_without_kafka_heartbeats_at_the_configured_address(tmp_path: Path) -> None:
    app, service, link = _tray(tmp_path, {"profile": "full"}, [])

    async def scenario() -> None:
        app._services_changed((ServiceView("riemann", "healthy", "healthy"),))

    asyncio.run(scenario())
    assert link.reads == 0
    assert service.calls == [("start heartbeat", DEFAULT)]


def test_the_full_profile_reads_the_stacks_alerts_topic_while_its_kafka_runs(
    tmp_path: Path,
) -> None:
    """Riemann keeps every alert on the stack's alerts topic: the tray reads it where Kafka is
    published from the moment Kafka runs, follows it to another port, and lets it be while
    Kafka is gone (its position stays committed for the next start)."""
    from logtray.stack.incidents import Observation

    addresses = [_at(41001), _at(41002), _at(41003)]
    app, service, _link = _tray(tmp_path, {"profile": "full"}, addresses)

    async def scenario() -> None:
        def alerts() -> list[tuple[str, str]]:  # the heartbeat's calls are another test's
            return [call for call in service.calls if "alerts" in call[0]]

        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert alerts() == [("read alerts", "logtray-alerts at 127.0.0.1:41001")]
        app._services_changed(_stack("exited"))  # stopped: no reader knocking meanwhile
        await _settle(app)
        assert alerts()[1:] == [("stop alerts", "")]
        app._services_changed(_stack("healthy"))
        await _settle(app)
        assert alerts()[2:] == [("read alerts", "logtray-alerts at 127.0.0.1:41002")]
        # Its container started again elsewhere (seen before it turns healthy): it follows.
        app._services_changed(_stack("starting"))
        app._observed(Observation("kafka", "started", 1.0))
        await _settle(app)
        assert alerts()[3:] == [("read alerts", "logtray-alerts at 127.0.0.1:41003")]

    asyncio.run(scenario())
    assert service.engine is None  # the full profile runs no engine


def test_the_alerts_topic_off_or_the_lite_profile_reads_none(tmp_path: Path) -> None:
    for stack in ({"profile": "full", "alerts_topic": ""}, {"profile": "lite"}):
        app, service, _link = _tray(tmp_path, {**stack, "heartbeat_s": 0}, [_at(41001)])

        async def scenario(app: Any = app) -> None:
            app._services_changed(_stack("healthy"))
            await _settle(app)

        asyncio.run(scenario())
        assert not any(call[0] == "read alerts" for call in service.calls), service.calls
