"""A short shift written once for the integration tests: one minute of two combines (1,200 frames)."""

from __future__ import annotations

import pytest

from mlway.sim import ShiftConfig, ShiftOutput, write_shift

MINUTE = ShiftConfig(machines=2, hours=1 / 60, seed=21, start_hour=10.0)


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> ShiftOutput:
    return write_shift(MINUTE, tmp_path_factory.mktemp("shift") / "out")
