"""Where logtray keeps its files, per platform (platformdirs).

`LOGTRAY_CONFIG` overrides the config file's path; everything else follows the platform's
conventions (and the XDG_* variables on Linux), which is also how tests isolate themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "logtray"


def config_file() -> Path:
    override = os.environ.get("LOGTRAY_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_file() -> Path:
    return log_dir() / "logtray.log"


def history_file() -> Path:
    return data_dir() / "alerts.jsonl"


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def tray_problem_file() -> Path:
    """The tray's current failure (a failed start, Docker gone), for `logtray doctor`."""
    return data_dir() / "tray-problem.json"


def stack_incidents_file() -> Path:
    """The stack services the tray saw fail and not yet recover, for `logtray doctor`."""
    return data_dir() / "stack-incidents.json"


def heartbeat_file() -> Path:
    """The alert path's last proof (the heartbeat), for `logtray doctor` and the menu."""
    return data_dir() / "heartbeat.json"


def ship_dir() -> Path:
    """Where shipping the containers' logs stands (a position per container) and its counts."""
    return data_dir() / "ship"
