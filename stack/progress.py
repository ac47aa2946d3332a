"""Pull progress: the per-layer messages of `docker pull` aggregated into one percent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DONE = ("Download complete", "Pull complete", "Already exists", "Extracting")


@dataclass
class PullProgress:
    """Feed it the decoded JSON messages of one image pull, read `percent`.

    Bytes downloaded over bytes to download, summed over the layers whose size is known;
    a layer reported complete (or already present) counts as fully downloaded. The percent
    never goes backwards, even when a new layer's size becomes known late.
    """

    totals: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    _last: float = 0.0

    def update(self, message: Mapping[str, Any]) -> float | None:
        layer = message.get("id")
        status = str(message.get("status") or "")
        if not isinstance(layer, str) or not layer or status.startswith(("Pulling from", "Digest")):
            return self.percent
        self.seen.add(layer)
        detail = message.get("progressDetail") or {}
        if status == "Downloading":
            total = detail.get("total")
            cur = detail.get("current")
            if isinstance(total, int) and total > 0:
                self.totals[layer] = total
            if isinstance(cur, int) and cur >= 0:
                self.current[layer] = cur
        elif status.startswith(_DONE):
            self.done.add(layer)
        return self.percent

    @property
    def percent(self) -> float | None:
        if not self.seen:
            return None
        known = set(self.totals)
        if not known:
            # Only completions so far (e.g. every layer already exists).
            value = 100.0 * len(self.done) / len(self.seen)
        else:
            total = sum(self.totals.values())
            got = sum(
                self.totals[lay]
                if lay in self.done
                else min(self.current.get(lay, 0), self.totals[lay])
                for lay in known
            )
            # Layers whose size is not known yet weigh as the average known layer.
            unknown = [lay for lay in self.seen - known if lay not in self.done]
            avg = total / len(known)
            value = 100.0 * got / (total + avg * len(unknown))
        self._last = max(self._last, min(value, 100.0))
        return self._last
