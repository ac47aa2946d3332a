"""From a decided alert to the desktop and back: notifiers, popup actions, and the service
that runs the whole alert path.

router hands each alert to the history, the policy and the notifier; notifiers/ shows the
notices (desktop-notifier, plyer or console); actions answers a click (opener, editor,
error_view); service assembles listener, engine, alerts topic, router and notifier into one
AlertService that `logtray listen`, `logtray engine` and the tray run.

May import: logtray.tray.alerts and logtray.tray.base. Nothing here knows about the tray icon
or Docker.
"""
