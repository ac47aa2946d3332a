"""The stack's settings: the `[stack]` section of logtray's one config.

stack/ owns them so that it stands alone (it imports nothing from tray/); tray/'s config loader
reads the section into these classes, with the same validation as every other section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# team: the full stack plus a Kafka listener for other machines (SASL_SSL), see stack/team.py.
StackProfile = Literal["full", "lite", "team"]

# What Kafka takes as a topic name (and "." or ".." it refuses).
KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class ServiceOverride:
    """Per-service overrides of the stack's built-in specs; None/empty means 'keep the spec'."""

    enabled: bool | None = None
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    # container port (e.g. "9094/tcp" or "9094") -> host port on 127.0.0.1
    ports: dict[str, int] = field(default_factory=dict)
    healthcheck: tuple[str, ...] | None = None
    mem_limit: str | None = None
    # The container's command (arguments after the image's entrypoint).
    command: tuple[str, ...] | None = None
    # Seconds between healthcheck runs (also the delay before the first one).
    healthcheck_interval_s: float | None = None


@dataclass(frozen=True)
class StackConfig:
    profile: StackProfile = "full"
    services: dict[str, ServiceOverride] = field(default_factory=dict)
    # Prefix of the network, containers and volumes, and the value of the stack label.
    name: str = "logtray"
    # Pull missing images (on purpose, with progress); false fails fast instead (offline use).
    pull: bool = True
    # How long `up` waits for one service to become ready before giving up.
    ready_timeout_s: float = 300.0
    # Check the engine's disk and memory before pulling (`stack up --skip-preflight` skips once).
    preflight: bool = True
    # While the stack runs, one marked record every this many seconds proves the alert path end
    # to end (Kafka -> Riemann or the engine -> the listener); 0 turns it off.
    heartbeat_s: float = 60.0
    # Alerts later than this (the heartbeat's end-to-end time: the rule is behind the logs)
    # are said to be late in the menu and `logtray doctor`.
    max_alert_delay_s: float = 30.0
    # The full and team profiles: Riemann publishes every alert to this topic on the stack's
    # own Kafka (besides the TCP line), and the tray reads it from its own position, so alerts
    # raised while it was closed are told on its next start. Empty: TCP only (nothing kept).
    alerts_topic: str = "logtray-alerts"
    # How long the stack's Kafka keeps that topic's alerts (the topic's retention.ms).
    alerts_retention_s: float = 7 * 86400.0
    # The team profile: the name or address teammates reach this machine's Kafka by (it is
    # what Kafka advertises and what its TLS certificate names). Empty: the profile refuses
    # to start, so Kafka is never opened to the network by accident.
    team_host: str = ""
    # The local address the team listener is published on: empty means team_host (which must
    # then be an IP address). "0.0.0.0" publishes on every interface, only when written here.
    team_bind: str = ""
    # The host port teammates connect to (TLS and a SASL login on it).
    team_port: int = 9093
