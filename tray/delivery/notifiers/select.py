"""Choose the notifier: the configured one, or the best that works here ("auto")."""

from __future__ import annotations

import logging
import sys
import webbrowser
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from logtray.tray.base.errors import LogtrayError
from logtray.tray.delivery.actions import AlertActions
from logtray.tray.delivery.notifiers import Notifier
from logtray.tray.delivery.notifiers.console import ConsoleNotifier

log = logging.getLogger(__name__)

NOTIFICATION_SERVER_FIX = (
    "start a notification daemon (e.g. `apt install dunst` and run `dunst`, or use a desktop "
    "session that has one)"
)


def app_icon() -> Path | None:
    try:
        icon = resources.files("logtray.icons") / "logtray.png"
        return Path(str(icon)) if icon.is_file() else None
    except (ModuleNotFoundError, OSError):
        return None


async def _desktop_problem() -> str | None:
    """Why desktop-notifier cannot show real notifications here, or None."""
    try:
        import desktop_notifier  # noqa: F401
    except ImportError as exc:
        return f"desktop-notifier cannot be imported ({exc})"
    if sys.platform.startswith("linux"):
        from logtray.tray.delivery.notifiers.linux_server import notification_server_problem

        return await notification_server_problem()
    if sys.platform == "darwin":
        from desktop_notifier.main import get_backend_class

        if get_backend_class().__name__ == "DummyNotificationCenter":
            return "macOS shows notifications only from an app bundle"
    return None


async def select_notifier(
    backend: str,
    open_url: Callable[[str], object] = webbrowser.open,
    actions: AlertActions | None = None,
) -> Notifier:
    if backend == "console":
        return ConsoleNotifier()
    if backend == "plyer":
        try:
            from logtray.tray.delivery.notifiers.plyer_notifier import PlyerNotifier

            return PlyerNotifier(app_icon())
        except ImportError as exc:
            raise LogtrayError(
                f"the plyer notifier is not available ({exc})",
                fix="pip install plyer, or choose --notifier desktop|console",
            ) from None
    problem = await _desktop_problem()
    if problem is None:
        from logtray.tray.delivery.notifiers.desktop import DesktopNotifierBackend

        desktop = DesktopNotifierBackend(open_url, app_icon(), actions)
        await desktop.connect()
        return desktop
    if backend == "auto" and not sys.platform.startswith("linux"):
        try:
            from logtray.tray.delivery.notifiers.plyer_notifier import PlyerNotifier

            log.warning("desktop notifications unavailable: %s; using plyer", problem)
            return PlyerNotifier(app_icon())
        except ImportError:
            pass
    log.warning(
        "cannot show desktop notifications: %s; printing them to stdout instead.\n  fix: %s; "
        "`logtray doctor` checks it",
        problem,
        NOTIFICATION_SERVER_FIX,
    )
    return ConsoleNotifier()
