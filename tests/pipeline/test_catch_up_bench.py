"""bench/catch_up_bench.py run whole: its live part reads once without positions, and the
parts after it (durable) must read with their positions again, or they report no commits."""

from __future__ import annotations

import asyncio

import pytest

from bench import catch_up_bench
from logtray.tray.delivery import service as service_module


def test_the_live_part_puts_the_readers_positions_back(broker, capsys) -> None:
    real = service_module.Resume
    asyncio.run(catch_up_bench.live(broker.bootstrap, 20, 1.0))
    assert service_module.Resume is real
    said = capsys.readouterr().out
    assert "committing: 0 commits" not in said and "no position: 0 commits" in said, said


def test_without_positions_puts_them_back_on_an_error() -> None:
    real = service_module.Resume
    with pytest.raises(RuntimeError), catch_up_bench.without_positions(True):
        assert service_module.Resume is not real
        raise RuntimeError("a part failed")
    assert service_module.Resume is real
