"""Shared shifts for the simulator's unit tests: built once, without rendering until a test asks."""

from __future__ import annotations

import pytest

from mlway.sim import Shift, ShiftConfig


@pytest.fixture(scope="session")
def half_hour() -> Shift:
    """The issue's example: 3 combines, half an hour, seed 7, daylight."""
    return Shift(ShiftConfig(machines=3, hours=0.5, seed=7, start_hour=11.0))


@pytest.fixture(scope="session")
def short() -> Shift:
    return Shift(ShiftConfig(machines=2, hours=0.01, seed=3))
