"""`logtray alerts [--json] [-n N]`: recent alerts, each with where its errors are, their type
and the user's own frame; `logtray alerts show N`: one's error view."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from logtray.tray.alerts.alert import Alert
from logtray.tray.alerts.evidence import clean_text
from logtray.tray.alerts.history import AlertHistory
from logtray.tray.base import paths
from logtray.tray.base.config import load_config
from logtray.tray.base.errors import LogtrayError
from logtray.tray.base.links import allowed_prefixes
from logtray.tray.delivery.actions import KibanaProbe, write_error_view
from logtray.tray.delivery.opener import open_page


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("alerts", help="list recent alerts; `alerts show N` opens one")
    parser.add_argument("-n", "--count", type=int, default=20, help="how many (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON array, newest first")
    parser.set_defaults(run=run_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="write alert N's error view (1 = newest) and open it")
    show.add_argument("number", type=int, metavar="N")
    show.add_argument("--no-open", action="store_true", help="only print the page's path")
    show.set_defaults(run=run_show)


def _recent(count: int | None) -> list[dict[str, Any]]:
    config = load_config()
    history = AlertHistory(
        paths.history_file(),
        config.alerts.history_size,
        allowed_prefixes(config.kibana.url, config.kibana.allowed_url_prefixes),
        read_only=True,
    )
    if history.failure:
        raise LogtrayError(
            f"alert history: {history.failure}",
            fix="make it a readable file, or move it away (a running logtray keeps its "
            "alerts in memory meanwhile)",
        )
    try:
        return history.recent(count)
    finally:
        history.close()


def _line(number: int, entry: dict[str, Any]) -> str:
    alert = Alert.from_record(entry)
    received = entry.get("received")
    when = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(received))
        if isinstance(received, (int, float))
        else "?"
    )
    text = clean_text(alert.headline(), 80)
    if alert.message:
        text += " — " + clean_text(alert.message, 80)
    # How it was told: as it came, or on a start, in the "while you were away" summary.
    told = entry.get("told")
    told = told if told in ("live", "caught up") else "?"
    line = f"{number:>3}  {when}  {told:<9}  {text}"
    # Second line: where (file:line, or "<service> · <template>"), the error's type and the
    # first frame of the user's own code.
    where = " — ".join(part for part in (alert.where(), alert.detail()) if part)
    return f"{line}\n{' ' * 5}{clean_text(where, 200)}" if where else line


def run_list(args: argparse.Namespace) -> int:
    entries = _recent(max(0, args.count))
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=1))
        return 0
    if not entries:
        print(f"no alerts yet (the history is {paths.history_file()})")
        return 0
    for number, entry in enumerate(entries, 1):
        print(_line(number, entry))
    print("\n`logtray alerts show N` opens one's error view")
    return 0


def run_show(args: argparse.Namespace) -> int:
    if args.number < 1:
        raise LogtrayError("N counts from 1 (the newest alert)", fix="see `logtray alerts`")
    entries = _recent(args.number)
    if len(entries) < args.number:
        raise LogtrayError(
            f"there are only {len(entries)} alert(s) in the history",
            fix="see `logtray alerts` for the numbers",
        )
    config = load_config()
    alert = Alert.from_record(entries[args.number - 1])
    kibana = asyncio.run(KibanaProbe(config.kibana.url)())
    # A separate process: the engine's recent records are not here, the alert's evidence is.
    path = write_error_view(config, alert, (), kibana_running=kibana)
    print(path)
    if not args.no_open:
        open_page(path, wait=True)
    return 0
