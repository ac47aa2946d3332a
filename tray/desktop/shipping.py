"""The tray's part in shipping containers' logs: start the shipper at the stack's Kafka, and
what the menu shows of it (the followed containers and their counts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logtray.tray.base import paths
from logtray.tray.base.config import Config
from logtray.tray.desktop.state import ShippingView

if TYPE_CHECKING:
    from logtray.stack.ship.shipper import Shipper, Shipping


def start_shipper(config: Config, bootstrap: str) -> Shipper:
    """A started Shipper for `config` at `bootstrap` (the tray and `logtray ship` share it).
    Blocking (it starts threads): call it off the loop."""
    from logtray.stack.engine import connect
    from logtray.stack.ship.shipper import Shipper
    from logtray.tray.alerts.kafka_source import quiet_aiokafka, security_options

    quiet_aiokafka()  # one line per failed connect, every retry: the shipper says it once

    shipper = Shipper(
        lambda: connect(timeout=60),
        config.ship,
        bootstrap,
        paths.ship_dir(),
        security_options(config.engine),
    )
    shipper.start()
    return shipper


def views(snapshot: list[Shipping]) -> tuple[ShippingView, ...]:
    return tuple(
        ShippingView(s.name, s.service, s.following, s.shipped, s.dropped) for s in snapshot
    )
