"""The `[ship]` section: which containers' output is shipped into program-logs, and its bounds.

stack/ owns it (stack/ stands alone); tray/'s config loader reads the section into it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The label a developer puts on a container to have its output shipped.
SHIP_LABEL = "logtray.logs"


@dataclass(frozen=True)
class ShipConfig:
    # The tray ships while it runs (`logtray ship` ships whatever this says).
    enabled: bool = True
    # A container is followed when it matches any of these (none match the stack's own
    # containers, except `names`): labels as "key=value" (or "key" for any value), compose
    # project names, compose service names, and globs on the container's name.
    labels: tuple[str, ...] = (f"{SHIP_LABEL}=true",)
    compose_projects: tuple[str, ...] = ()
    compose_services: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    # The topic the records go to (the one the rule reads).
    topic: str = "program-logs"
    # The records waiting for Kafka, all containers together, in bytes; each followed container
    # may hold its share (fair: a chatty one cannot take the others' room). Beyond it, lines are
    # dropped and counted, and said once.
    buffer_bytes: int = 8 * 1024 * 1024
    # A multi-line entry (a traceback, a stack trace) is joined up to this many lines and bytes.
    max_entry_lines: int = 500
    max_entry_bytes: int = 65536
    # At most this many containers are followed at once (the rest are named, not followed).
    max_containers: int = 64
    # A container shipped for the first time (no position yet) is read from this many seconds
    # before shipping started, when it already ran then: not its whole log (a week of old
    # lines would flood Kafka, and their errors count at their own times). One that starts
    # while shipping runs is read from its first line of that run (and the same look-back).
    first_look_back_s: float = 300.0
