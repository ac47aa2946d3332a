"""The base of the desktop side: the one typed config, the error boundary, where files live,
logging, the listener's default hosts and which URLs may be opened.

Everything else in tray/ may import it; it imports only the standard library, its own
modules and logtray.stack's small shared types (the error shape, the [stack] settings).
"""
