"""On-board sensors as the combine's own bus records them: own rates, noise, dropouts, clock offset, lag.

Each sensor samples on the sensor clock; a sample stamped ``time_s`` on that clock was taken at camera
time ``time_s - offset_s`` and shows the state ``lag_s`` earlier still (transport delay of the yield
monitor, filtering of the tank level, and so on). Dropouts are missing rows: whole gaps and single
lost samples.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mlway.sim.schedule import MachineSchedule
from mlway.sim.timeline import Timeline

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SensorSpec:
    rate_hz: float
    unit: str
    lag_s: tuple[float, float]  # range the lag is drawn from
    decimals: int


SENSORS: dict[str, SensorSpec] = {
    "auger_engaged": SensorSpec(2.0, "0/1", (0.2, 0.8), 0),
    "auger_speed": SensorSpec(5.0, "rpm", (0.3, 1.2), 0),
    "grain_flow": SensorSpec(2.0, "kg/s", (4.0, 10.0), 2),
    "tank_fill": SensorSpec(0.5, "%", (2.0, 6.0), 1),
    "ground_speed": SensorSpec(5.0, "km/h", (0.5, 1.5), 2),
}


@dataclass(frozen=True)
class SensorClock:
    """How the sensor bus's clock relates to the cameras' (true values, for tests and auto-labelling)."""

    offset_s: float
    lags_s: dict[str, float] = field(default_factory=dict)


def draw_clock(rng: np.random.Generator) -> SensorClock:
    offset = float(rng.uniform(0.8, 6.0)) * (1 if rng.random() < 0.5 else -1)
    return SensorClock(round(offset, 3), {n: round(float(rng.uniform(*s.lag_s)), 3) for n, s in SENSORS.items()})


def _in_spans(t: F64, spans: list[tuple[float, float]]) -> NDArray[np.bool_]:
    out = np.zeros(t.shape, bool)
    for start, end in spans:
        out |= (t >= start) & (t < end)
    return out


def true_value(name: str, t: F64, schedule: MachineSchedule, timeline: Timeline) -> F64:
    """The physical quantity ``name`` at camera times ``t`` (no noise, no lag)."""
    engaged = _in_spans(t, [(u.start, u.end) for u in schedule.unloadings])
    if name == "auger_engaged":
        return engaged.astype(np.float64)
    if name == "auger_speed":
        rpm = np.where(engaged, 520.0, 0.0)
        rpm[_in_spans(t, [(f.start, f.end) for f in schedule.failures if f.mode == "no_flow"])] = 565.0
        blocked = _in_spans(t, [(f.start, f.end) for f in schedule.failures if f.mode == "blocked"])
        rpm[blocked] = 200.0 + 90.0 * np.sin(t[blocked] * 1.7)
        return rpm
    if name == "grain_flow":
        cutting = np.interp(t, timeline.times, timeline.cutting)
        return np.asarray(cutting * (11.0 + 2.5 * np.sin(t / 90.0) + 1.5 * np.sin(t / 23.0)), np.float64)
    if name == "tank_fill":
        knots = np.array(schedule.fill)
        return np.asarray(100.0 * np.interp(t, knots[:, 0], knots[:, 1]), np.float64)
    if name == "ground_speed":
        return 3.6 * np.interp(t, timeline.times, timeline.speed)
    raise KeyError(name)


def _noisy(name: str, value: F64, rng: np.random.Generator) -> F64:
    if name == "auger_engaged":
        return value
    if name == "auger_speed":
        return np.maximum(0.0, value + rng.normal(0, 6.0, value.shape) * (value > 0))
    if name == "grain_flow":
        return np.maximum(0.0, value * rng.normal(1.0, 0.08, value.shape) + rng.normal(0, 0.15, value.shape))
    if name == "tank_fill":
        return np.clip(np.round((value + rng.normal(0, 0.8, value.shape)) * 2) / 2, 0, 100)
    return np.maximum(0.0, value + rng.normal(0, 0.15, value.shape))


def _kept(t: F64, duration: float, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Samples that survive: gaps of 2 to 30 s about every ten minutes, and 1% single losses."""
    keep = rng.random(t.shape) > 0.01
    for _ in range(int(rng.poisson(duration / 600.0))):
        start = float(rng.uniform(0, duration))
        keep &= ~((t >= start) & (t < start + float(rng.uniform(2, 30))))
    return keep


def sensor_rows(
    schedule: MachineSchedule, timeline: Timeline, clock: SensorClock, rng: np.random.Generator
) -> list[tuple[float, str, float]]:
    """Every sample of every sensor as (sensor-clock time, sensor, value), in time order."""
    rows: list[tuple[float, str, float]] = []
    duration = schedule.duration
    for name, spec in SENSORS.items():
        stamp = np.arange(0.0, duration, 1.0 / spec.rate_hz) + rng.uniform(0, 1.0 / spec.rate_hz)
        stamp = stamp + rng.normal(0, 0.004, stamp.shape)
        seen_at = stamp - clock.offset_s - clock.lags_s[name]
        value = _noisy(name, true_value(name, np.clip(seen_at, 0, duration), schedule, timeline), rng)
        keep = _kept(stamp, duration, rng)
        rows += [
            (round(float(s), 3), name, round(float(v), spec.decimals))
            for s, v in zip(stamp[keep], value[keep], strict=True)
        ]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def write_sensors(path: Path, rows: list[tuple[float, str, float]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time_s", "sensor", "value"])
        writer.writerows(rows)
