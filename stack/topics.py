"""The stack's Kafka topics that need more than the broker's defaults: the alerts topic, kept
for a bounded time (its retention.ms), so the tray can tell on start what came while it was
closed and the broker's disk use stays bounded.

Made from the host once Kafka is ready (`StackManager.up`), through Kafka's admin protocol at
the published port: created when missing, its retention set again when `[stack]
alerts_retention_s` changed. Never fatal: a topic that cannot be made is still auto-created
by the broker on Riemann's first alert, with the broker's own retention (7 days).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from logtray.stack.config import StackConfig
from logtray.stack.specs import alerts_topic

log = logging.getLogger(__name__)

RETENTION = "retention.ms"
# Kafka's error codes the admin answers carry (org.apache.kafka.common.protocol.Errors).
TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    name: str
    retention_ms: int


def stack_topics(stack: StackConfig) -> tuple[TopicSpec, ...]:
    """The topics the stack makes: the alerts topic Riemann publishes to, if any."""
    topic = alerts_topic(stack)
    if not topic:
        return ()
    return (TopicSpec(topic, round(stack.alerts_retention_s * 1000)),)


def ensure_topics(bootstrap: str, topics: tuple[TopicSpec, ...], timeout_s: float = 30.0) -> str:
    """Create each topic with its retention (or set the retention of one that exists and
    differs); returns one sentence of what was done. Raises on what Kafka refused or did not
    answer (the caller says it and goes on)."""
    if not topics:
        return "no topics to make"
    return asyncio.run(asyncio.wait_for(_ensure(bootstrap, topics, timeout_s), timeout_s))


async def _ensure(bootstrap: str, topics: tuple[TopicSpec, ...], timeout_s: float) -> str:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    done: list[str] = []
    try:
        answer = await admin.create_topics(
            [NewTopic(t.name, 1, 1, topic_configs={RETENTION: str(t.retention_ms)}) for t in topics]
        )
        errors = {name: (code, text) for name, code, text in _topic_errors(answer)}
        for topic in topics:
            code, text = errors.get(topic.name, (0, None))
            if code == 0:
                done.append(f"created {topic.name} (kept {_days(topic.retention_ms)})")
            elif code == TOPIC_ALREADY_EXISTS:
                try:
                    done.append(await _keep_retention(admin, topic))
                except Exception as exc:  # a broker without DescribeConfigs/AlterConfigs
                    done.append(
                        f"{topic.name} exists; its retention was not checked "
                        f"({type(exc).__name__}: {exc})"
                    )
            else:
                raise RuntimeError(f"Kafka refused to create {topic.name}: {text or code}")
    finally:
        await admin.close()
    return "; ".join(done)


async def _keep_retention(admin: Any, topic: TopicSpec) -> str:
    """The topic exists: its retention set to `topic.retention_ms` when it differs."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    answers = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic.name, {RETENTION: None})]
    )
    now = _config_value(answers, RETENTION)
    if now == str(topic.retention_ms):
        return f"{topic.name} is kept {_days(topic.retention_ms)}"
    # AlterConfigs replaces the topic's own settings: retention.ms is the only one it has.
    answers = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic.name, {RETENTION: str(topic.retention_ms)})]
    )
    for answer in answers:
        for code, text, *_ in getattr(answer, "resources", ()):
            if code:
                raise RuntimeError(f"Kafka refused the retention of {topic.name}: {text or code}")
    return f"{topic.name} is now kept {_days(topic.retention_ms)} (was {now} ms)"


def _topic_errors(answer: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in getattr(answer, "topic_errors", ()):
        name, code = entry[0], entry[1]
        out.append((name, code, entry[2] if len(entry) > 2 else None))
    return out


def _config_value(answers: list[Any], key: str) -> str | None:
    for answer in answers:
        for resource in getattr(answer, "resources", ()):
            # (error_code, error_message, resource_type, resource_name, config_entries)
            for entry in resource[4]:
                if entry[0] == key:
                    return str(entry[1])
    return None


def _days(ms: int) -> str:
    days = ms / 86_400_000
    return f"{days:g} days" if days >= 1 else f"{ms / 3_600_000:g} h"
