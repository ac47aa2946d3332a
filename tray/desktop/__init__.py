"""The tray app: the icon, the menu, the app state they are drawn from, and the link to the
stack.

app runs pystray on the main thread and the alert service on an asyncio thread; state holds
the one AppState, and icon, menu and tray_view are pure functions of it; stack_link is the
only module of the desktop that drives logtray.stack; failure keeps what the tray shows for
`logtray doctor`; traycheck and autostart know the desktop's environment.

May import: logtray.tray.delivery, logtray.tray.alerts, logtray.tray.base and logtray.stack.
"""
