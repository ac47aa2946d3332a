"""Headless notifier: one JSON object per shown notification on stdout (for scripts)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from logtray.tray.alerts.policy import Notice
from logtray.tray.delivery.notifiers import notice_text


class ConsoleNotifier:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    async def show(self, notice: Notice) -> None:
        title, body = notice_text(notice, body_markup=False)  # JSON: no markup, but no escapes
        record: dict[str, object] = {
            "title": title,
            "body": body,
            "key": notice.key,
            "url": notice.url,
            "count": notice.count,
            "replaces": notice.replaces,
            # The alert's id (None for summaries): scripts can tell one alert told twice.
            "id": notice.alert.id if notice.alert is not None else None,
        }
        if notice.ids:  # a summary: the ids of the alerts it counts
            record["ids"] = list(notice.ids)
        try:
            self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away (e.g. `| head`); alerts are still in the history

    async def aclose(self) -> None:
        return None
