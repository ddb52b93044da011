"""On-board sensors: own rates, noise, dropouts, and a clock offset plus lag against the cameras."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from mlway.sim import SENSORS, Shift
from mlway.sim.sensors import sensor_rows


def _series(shift: Shift, machine: str) -> dict[str, np.ndarray]:
    rows = sensor_rows(shift.schedules[machine], shift.timelines[machine], shift.clocks[machine],
                       np.random.default_rng(0))  # fmt: skip
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t, name, value in rows:
        out[name].append((t, value))
    return {name: np.array(v) for name, v in out.items()}


def test_each_sensor_samples_at_its_own_rate_with_dropouts(half_hour: Shift) -> None:
    series = _series(half_hour, "combine-01")
    assert set(series) == set(SENSORS)
    duration = half_hour.config.duration_s
    for name, spec in SENSORS.items():
        t = series[name][:, 0]
        assert np.all(np.diff(t) > 0)
        expected = duration * spec.rate_hz
        assert 0.8 * expected < len(t) < expected
        assert np.median(np.diff(t)) == pytest.approx(1.0 / spec.rate_hz, rel=0.05)
    gaps = np.diff(series["auger_speed"][:, 0])
    assert gaps.max() > 2.0  # at least one real dropout, not only single lost samples


def test_auger_engaged_lags_the_video_by_the_clock_offset_plus_the_lag(half_hour: Shift) -> None:
    for machine, schedule in half_hour.schedules.items():
        clock = half_hour.clocks[machine]
        assert abs(clock.offset_s) >= 0.8
        engaged = _series(half_hour, machine)["auger_engaged"]
        delays = []
        for u in schedule.unloadings:
            after = engaged[(engaged[:, 0] > u.start + clock.offset_s - 0.5) & (engaged[:, 1] == 1.0)]
            if len(after) and after[0, 0] < u.start + clock.offset_s + 3.0:
                delays.append(after[0, 0] - u.start)
        assert delays
        expected = clock.offset_s + clock.lags_s["auger_engaged"]
        assert np.median(delays) == pytest.approx(expected, abs=0.6)


def test_values_are_physical_and_noisy(half_hour: Shift) -> None:
    series = _series(half_hour, "combine-02")
    assert set(np.unique(series["auger_engaged"][:, 1])) == {0.0, 1.0}
    fill = series["tank_fill"][:, 1]
    assert fill.min() >= 0.0
    assert fill.max() <= 100.0
    assert fill.max() - fill.min() > 50.0
    speed = series["ground_speed"][:, 1]
    moving = speed[speed > 3.0]
    assert 3.0 < np.median(moving) < 8.0
    assert np.std(moving) > 0.1
    flow = series["grain_flow"][:, 1]
    assert 5.0 < np.median(flow[flow > 2.0]) < 20.0
    rpm = series["auger_speed"][:, 1]
    assert 450 < np.median(rpm[rpm > 400]) < 600
