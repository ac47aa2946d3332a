"""Who holds a TCP port on this machine (for "port taken" messages)."""

from __future__ import annotations


def port_holder(port: int) -> str | None:
    """The process listening on `port`, if the OS lets us see it (it may need root)."""
    import psutil  # only when a port is taken: the listener imports this module at start

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if not conn.pid:
                    return None
                try:
                    return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
                except psutil.Error:
                    return f"pid {conn.pid}"
    except Exception:  # psutil.AccessDenied on macOS without root, etc.
        return None
    return None
