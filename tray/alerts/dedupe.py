"""One alert, shown once: the stable alert id, and the bounded memory of ids already taken.

A desktop may receive the same alert twice: over TCP from the stack's Riemann and over the
team's alerts topic, or from its own engine and the topic the engine publishes to. Every
sender derives the id from what makes the alert itself (the file and the moment of the
crossing), so both copies carry the same id and the second is dropped before the history.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

ID_CHARS = 20


def alert_id(key: str, at: float) -> str:
    """The id of the alert for `key` (pathname) raised at epoch seconds `at` (milliseconds
    count). riemann.config computes the same: sha-256 of "<key>\\n<milliseconds>", 20 hex."""
    millis = math.floor(at * 1000 + 0.5)  # Java's Math/round, as riemann.config rounds
    return hashlib.sha256(f"{key}\n{millis}".encode()).hexdigest()[:ID_CHARS]


class SeenIds:
    """The last `capacity` ids taken (oldest forgotten first): bounded whatever senders send."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, alert_id: str) -> bool:
        """True the first time an id is offered (and remembers it), False for a repeat."""
        if alert_id in self._ids:
            self._ids.move_to_end(alert_id)
            return False
        self._ids[alert_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)
