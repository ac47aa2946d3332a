"""The tray menu as data: a pure function of the app state.

Entries carry an action id (a string) instead of a callback, so the menu can be built and
tested without a GUI; the tray adapter maps ids to handlers in one place.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from logtray.tray.base.text import shown_text
from logtray.tray.desktop.failure import short_line
from logtray.tray.desktop.state import AppState, ShippingView, kibana_ready

SNOOZE_CHOICES = (
    ("Snooze 15 min", "snooze:900"),
    ("Snooze 1 hour", "snooze:3600"),
    ("Snooze until tomorrow", "snooze:tomorrow"),
)
RECENT_IN_MENU = 10


@dataclass(frozen=True)
class Entry:
    text: str
    action: str | None = None  # None: a label (disabled) or a submenu
    enabled: bool = True
    checked: bool | None = None  # None: not a check item
    children: tuple[Entry, ...] = ()
    default: bool = False  # what a left click on the icon does, where the platform has one


SEPARATOR = Entry("-")


def build_menu(state: AppState) -> tuple[Entry, ...]:
    entries: list[Entry] = [Entry(notice, enabled=False) for notice in state.notices]
    entries += _stack_entries(state)
    if state.profile != "lite":  # the lite profile has no Kibana
        ready = kibana_ready(state)
        text = "Open Kibana" if ready else "Open Kibana (not running)"
        entries.append(Entry(text, "kibana.open", enabled=ready, default=ready))
    entries.append(SEPARATOR)
    entries.append(_recent_alerts(state))
    entries += _quiet_entries(state)
    entries.append(SEPARATOR)
    entries.append(Entry("Start at login", "autostart.toggle", checked=state.autostart))
    entries.append(Entry("Open settings", "settings.open"))
    entries.append(Entry("Quit", "quit"))
    return tuple(_shown(entry) for entry in entries)


def _shown(entry: Entry) -> Entry:
    """The entry with its text, and its children's, as the desktop may show it: alert titles
    and error lines carry what senders and services wrote (tray.base.text)."""
    text = shown_text(entry.text)
    children = tuple(_shown(child) for child in entry.children)
    if text == entry.text and children == entry.children:
        return entry  # the same object: SEPARATOR stays SEPARATOR
    return dataclasses.replace(entry, text=text, children=children)


def _stack_entries(state: AppState) -> list[Entry]:
    profile = f" ({state.profile})"
    if state.phase == "unavailable":
        # The first clause only ("Docker is not running"), short enough to fit: the whole
        # sentence and the fix are in the notification and `logtray doctor`.
        reason = (state.docker_problem or "Docker is unavailable").split(" (")[0]
        return [
            Entry(short_line(f"Start stack{profile}: {reason}"), enabled=False),
            Entry("Run `logtray doctor` for the fix", enabled=False),
        ]
    entries: list[Entry] = []
    if state.phase in ("starting", "stopping"):
        entries.append(Entry(state.progress or f"{state.phase.capitalize()}…", enabled=False))
    if state.phase in ("stopped",):
        entries.append(Entry(f"Start stack{profile}", "stack.start"))
    elif state.phase == "starting":
        entries.append(Entry(f"Stop stack{profile}", "stack.stop"))
    elif state.phase == "stopping":
        entries.append(Entry(f"Start stack{profile}", enabled=False))
    else:  # healthy or degraded: starting again repairs what is missing
        entries.append(Entry(f"Stop stack{profile}", "stack.stop"))
        if state.phase == "degraded":
            entries.append(Entry("Repair stack (start what is missing)", "stack.start"))
    if state.last_error:
        entries.append(Entry(short_line(state.last_error), enabled=False))
    entries += [Entry(short_line(line), enabled=False) for line in state.incidents]
    if state.es_unblock:
        entries.append(Entry("Repair: clear Elasticsearch's read-only block", "es.unblock"))
    if state.alerts_proof and state.phase in ("healthy", "degraded"):
        entries.append(Entry(short_line(state.alerts_proof), enabled=False))
    if state.services:
        services = tuple(
            Entry(
                f"{s.name}: {s.text}",
                children=(
                    Entry("Show logs", f"service.logs:{s.name}", enabled=s.state != "absent"),
                ),
            )
            for s in state.services
        )
        entries.append(Entry("Services", children=services))
    entries += _shipping_entries(state)
    return entries


def _shipping_entries(state: AppState) -> list[Entry]:
    """The containers whose output is shipped ([ship]), with their line counts."""
    if not state.shipping and not state.shipping_problem:
        return []
    children = [Entry(menu_line(view), enabled=False) for view in state.shipping]
    if state.shipping_problem:
        children.append(Entry(short_line(state.shipping_problem), enabled=False))
    count = len(state.shipping)
    return [Entry(f"Container logs ({count} shipped)", children=tuple(children))]


def _recent_alerts(state: AppState) -> Entry:
    title = f"Recent alerts ({state.unseen} new)" if state.unseen else "Recent alerts"
    if not state.recent:
        return Entry(title, children=(Entry("No alerts yet", enabled=False),))
    items = []
    kibana = kibana_ready(state)
    for index, alert in enumerate(state.recent[:RECENT_IN_MENU]):
        at = time.strftime("%H:%M:%S", time.localtime(alert.received))
        count = f" ×{alert.count}" if alert.count > 1 else ""
        # A Discover link works only while the stack's Kibana runs, an alert's own URL always;
        # otherwise the entry opens the alert's built-in error view.
        to_errors = alert.url is None or (alert.needs_kibana and not kibana)
        text = f"{at}  {alert.title}{count}" + (" (while away)" if alert.caught_up else "")
        text += " (errors)" if to_errors else ""
        items.append(Entry(text, f"alert.open:{index}"))
    items += [SEPARATOR, Entry("Clear", "alerts.clear")]
    return Entry(title, children=tuple(items))


def _quiet_entries(state: AppState) -> list[Entry]:
    entries = [Entry(text, action) for text, action in SNOOZE_CHOICES]
    if state.snoozed_until is not None:
        until = time.strftime("%H:%M", time.localtime(state.snoozed_until))
        entries.append(Entry(f"Resume (snoozed until {until})", "resume"))
    entries.append(Entry("Do not disturb", "dnd.toggle", checked=state.do_not_disturb))
    return entries


def menu_line(view: ShippingView) -> str:
    """'billing (shop-billing-1): 1,234 lines', and what was dropped, if any."""
    name = view.service if view.service == view.name else f"{view.service} ({view.name})"
    text = f"{name}: {view.shipped:,} lines"
    if view.dropped:
        text += f", {view.dropped:,} dropped"
    return text + ("" if view.following else " (stopped)")
