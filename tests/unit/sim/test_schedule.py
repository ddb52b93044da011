"""The shift's state machine: a realistic, complete and consistent schedule per combine."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlway.sim import Shift, ShiftConfig
from mlway.sim.schedule import EMPTY, MachineSchedule, build_schedule


def _schedule(seed: int, **kw: float) -> MachineSchedule:
    rates = {"failure_rate": 0.3, "on_the_go_rate": 0.4, "distractor_rate": 3.0} | kw
    return build_schedule("combine-01", np.random.default_rng(seed), 3600.0, **rates)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6))
def test_drive_segments_cover_the_shift_without_gaps(seed: int) -> None:
    s = _schedule(seed)
    assert s.drive[0].start == 0.0
    assert s.drive[-1].end >= s.duration
    for a, b in itertools.pairwise(s.drive):
        assert b.start == pytest.approx(a.end)
        assert a.end > a.start


@pytest.mark.parametrize("seed", range(6))
def test_unloadings_last_minutes_and_failures_are_shorter_and_inside(seed: int) -> None:
    s = _schedule(seed, failure_rate=0.5)
    assert s.unloadings
    for u in s.unloadings:
        if not u.failures or u.failures[-1].resolved:
            assert 60.0 <= u.end - u.start <= 240.0
        for f in u.failures:
            assert u.start < f.start < f.end <= u.end + 1e-9
            assert 8.0 <= f.end - f.start <= 45.0
            assert f.mode in {"no_flow", "blocked"}


@pytest.mark.parametrize("seed", range(6))
def test_tank_fills_while_harvesting_and_empties_when_unloading(seed: int) -> None:
    s = _schedule(seed)
    fill = np.array(s.fill)
    assert fill[:, 1].min() >= 0.0
    assert fill[:, 1].max() <= 1.0
    for u in s.unloadings:
        at_start = np.interp(u.start, fill[:, 0], fill[:, 1])
        at_end = np.interp(u.end, fill[:, 0], fill[:, 1])
        assert at_start > 0.75
        if not u.failures:
            assert at_end == pytest.approx(EMPTY, abs=1e-6)


def test_no_failures_when_the_rate_is_zero() -> None:
    assert not any(_schedule(seed, failure_rate=0.0).failures for seed in range(6))


def test_forced_failure_lands_on_the_first_unloading() -> None:
    s = build_schedule("combine-01", np.random.default_rng(1), 3600.0, failure_rate=0.0, on_the_go_rate=0.4,
                       distractor_rate=0.0, force_failure=True)  # fmt: skip
    assert s.unloadings[0].failures
    assert len(s.failures) == 1


def test_half_hour_of_three_combines_has_several_unloadings_and_a_failure(half_hour: Shift) -> None:
    schedules = half_hour.schedules.values()
    assert sum(len(s.unloadings) for s in schedules) >= 5
    assert sum(len(s.failures) for s in schedules) >= 1
    assert sum(len(s.distractors) for s in schedules) >= 1


@pytest.mark.parametrize("seed", range(8))
def test_min_failures_is_honoured_when_there_are_unloadings(seed: int) -> None:
    shift = Shift(ShiftConfig(machines=3, hours=0.5, seed=seed, failure_rate=0.01, min_failures=2))
    assert sum(len(s.failures) for s in shift.schedules.values()) >= 2


def test_same_seed_same_schedule_and_machines_are_independent_of_fleet_size() -> None:
    a = Shift(ShiftConfig(machines=3, hours=0.5, seed=11, min_failures=0))
    b = Shift(ShiftConfig(machines=2, hours=0.5, seed=11, min_failures=0))
    assert a.schedules["combine-02"] == b.schedules["combine-02"]
    assert a.schedules["combine-01"] != a.schedules["combine-02"]
