"""TCP ports on this machine: who holds one (for "port taken" messages), a free one."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` now (the kernel's pick for port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
