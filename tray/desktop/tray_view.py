"""The pystray side: the icon and menu on screen, redrawn from an AppState.

`show(state)` is the one way in from other threads: pystray's GTK and AppIndicator backends
hand the redraw to the GTK main loop themselves. Menu choices leave through `on_action`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logtray.tray.desktop.icon import render_icon
from logtray.tray.desktop.menu import SEPARATOR, Entry, build_menu
from logtray.tray.desktop.state import AppState, icon_kind, tooltip


class TrayView:
    def __init__(self, on_action: Callable[[str], None]) -> None:
        from logtray.tray.desktop.traycheck import prepare_gtk_environment

        prepare_gtk_environment()
        import pystray  # imported here: on Linux it opens the display on import

        self._pystray = pystray
        self._on_action = on_action
        self._state = AppState()
        self.icon = pystray.Icon(
            "logtray",
            render_icon(icon_kind(self._state)),
            tooltip(self._state),
            menu=pystray.Menu(self._items),
        )

    @property
    def backend(self) -> str:
        return type(self.icon).__module__.rsplit("._", 1)[-1]

    def _items(self) -> list[Any]:
        return [self._convert(entry) for entry in build_menu(self._state)]

    def _convert(self, entry: Entry) -> Any:
        pystray = self._pystray
        if entry is SEPARATOR:
            return pystray.Menu.SEPARATOR
        if entry.children:
            return pystray.MenuItem(entry.text, pystray.Menu(*map(self._convert, entry.children)))
        action = entry.action

        def chosen(icon: Any, item: Any) -> None:
            if action:
                self._on_action(action)

        checked = None
        if entry.checked is not None:
            is_checked = entry.checked

            def checked(item: Any) -> bool:
                return is_checked

        return pystray.MenuItem(
            entry.text,
            chosen,
            enabled=entry.enabled and action is not None,
            checked=checked,
            default=entry.default,
        )

    def show(self, state: AppState) -> None:
        self._state = state
        self.icon.icon = render_icon(icon_kind(state), state.unseen)
        self.icon.title = tooltip(state)
        self.icon.update_menu()

    def run(self, setup: Callable[[], None]) -> None:
        """Block the calling (main) thread until stop()."""

        def ready(icon: Any) -> None:
            icon.visible = True
            setup()

        self.icon.run(setup=ready)

    def stop(self) -> None:
        self.icon.stop()
