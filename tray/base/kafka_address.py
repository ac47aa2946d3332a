"""Which Kafka the stack's readers use (the lite engine, the heartbeat, doctor): one decision.

`[engine] bootstrap` when it is written (config file, LOGTRAY_ENGINE_BOOTSTRAP, --bootstrap);
otherwise the port the stack's kafka container publishes Kafka's host listener on, read from
the container engine's port mapping (`[stack.services.kafka] ports` moves it; 0 lets the
stack pick a free one); otherwise the default. Pure: the callers read the config and the
container and pass what they found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from logtray.tray.base.config import Origin

# Where the address came from: written in the config, published by the stack, the default.
KafkaSource = Literal["config", "stack", "default"]

# The stack publishes Kafka's host listener on this machine's loopback only.
PUBLISHED_HOST = "127.0.0.1"
NOT_RUNNING = "the stack's kafka is not running"


@dataclass(frozen=True)
class KafkaAddress:
    bootstrap: str
    source: KafkaSource
    # config: where it is written; stack: the container; default: why nothing else applies.
    detail: str

    def origin(self) -> str:
        """Where the address came from, in words (without the address)."""
        if self.source == "config":
            return f"[engine] bootstrap from {self.detail}"
        if self.source == "stack":
            return f"published by the stack's kafka container {self.detail}"
        return f"the default: [engine] bootstrap is not set and {self.detail}"

    def describe(self) -> str:
        """The address and where it came from, in one line for logs and `logtray doctor`."""
        return f"{self.bootstrap} ({self.origin()})"


def choose_kafka(
    configured: str,
    written: Origin | None,
    published_port: int | None,
    *,
    container: str = "kafka",
    absent: str = NOT_RUNNING,
) -> KafkaAddress:
    """The Kafka address to read the stack's logs at, and its source.

    `configured` is `[engine] bootstrap` as loaded; `written` where it was written (None: it
    is the default); `published_port` the host port the stack's kafka container publishes
    its host listener on (None: no such container runs, or it cannot be asked); `container`
    names that container; `absent` says why there is none (for the default's description).
    A written address always wins: the user chose it (their own Kafka, a tunnel, a team's).
    """
    if written is not None:
        return KafkaAddress(configured, "config", str(written))
    if published_port is not None and 0 < published_port < 65536:
        return KafkaAddress(f"{PUBLISHED_HOST}:{published_port}", "stack", container)
    return KafkaAddress(configured, "default", absent)
