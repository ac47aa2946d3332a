"""Shipping containers' logs as the user sees it without an engine: the [ship] config, the
menu's container lines, and doctor's verdict from the shipper's counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from logtray.tray.base.config import ConfigError, load_config
from logtray.tray.commands.doctor import shipping_check
from logtray.tray.desktop.menu import build_menu
from logtray.tray.desktop.state import AppState, ShippingView


def test_ship_reads_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[ship]\ncompose_projects = ["shop"]\nnames = ["web-*"]\n')
    config = load_config(path=path, environ={"LOGTRAY_SHIP_LABELS": "team=pay,logtray.logs"})
    assert config.ship.compose_projects == ("shop",)
    assert config.ship.names == ("web-*",)
    assert config.ship.labels == ("team=pay", "logtray.logs")
    assert config.ship.enabled


@pytest.mark.parametrize(
    "line", ["buffer_bytes = 10", "max_containers = 0", 'labels = ["=x"]', "enabled = 3"]
)
def test_bad_ship_values_fail_with_the_key(tmp_path: Path, line: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[ship]\n{line}\n")
    with pytest.raises(ConfigError, match=r"\[ship\] " + line.split(" ")[0]):
        load_config(path=path, environ={})


def _texts(entries) -> list[str]:
    out = []
    for entry in entries:
        out.append(entry.text)
        out += [f"  {c.text}" for c in entry.children]
    return out


def test_the_menu_lists_the_shipped_containers_with_their_counts() -> None:
    state = AppState(
        phase="healthy",
        shipping=(
            ShippingView("shop-billing-1", "billing", True, 1234, 0),
            ShippingView("worker", "worker", False, 5, 7),
        ),
    )
    texts = _texts(build_menu(state))
    assert "Container logs (2 shipped)" in texts
    assert "  billing (shop-billing-1): 1,234 lines" in texts
    assert "  worker: 5 lines, 7 dropped (stopped)" in texts
    assert not any("Container logs" in t for t in _texts(build_menu(AppState(phase="healthy"))))


def test_doctor_says_what_is_shipped_and_what_is_dropped() -> None:
    found = [("shop-billing-1", "billing", True), ("web", "web", False)]
    status = {
        "containers": [{"name": "shop-billing-1", "shipped": 10, "dropped": 0}],
        "problem": None,
    }
    check = shipping_check(found, status)
    assert check.ok
    assert check.detail == (
        "2 chosen: billing (shop-billing-1): 10 shipped; web: not shipped yet (not running)"
    )
    status["containers"] = [{"name": "web", "shipped": 3, "dropped": 4}]
    check = shipping_check(found, {**status, "problem": "cannot reach Kafka"})
    assert not check.ok and "4 dropped" in check.detail and "cannot reach Kafka" in check.detail
    assert "logtray stack up" in check.fix
    assert shipping_check([], None).detail.startswith("no container chosen")
    # Whatever the status file holds, doctor answers.
    assert shipping_check(found, {"containers": ["x", {"name": "web"}, None]}).ok
