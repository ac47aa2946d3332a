import os
import socket

import pytest


def pytest_configure(config):
    # Components a test needs must exist in CI: there a missing one fails instead of skipping.
    config.in_ci = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    """Every test gets its own config, data and log dirs (platformdirs follows XDG_*)."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("LOGTRAY_CONFIG", raising=False)
    for name in list(os.environ):
        if name.startswith("LOGTRAY_"):
            monkeypatch.delenv(name)
    return tmp_path


def need(condition: bool, why: str) -> None:
    """Skip when a component is missing, except in CI where that is a failure."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
