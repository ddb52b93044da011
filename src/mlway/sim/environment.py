"""Light and weather over the shift: time of day, rain, dust and lens dirt, per frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlway.sim.timeline import F64, Timeline

RGB = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Light:
    """How a scene is lit at one moment."""

    daylight: float  # 0 night .. 1 full day
    tint: RGB  # per-channel gain of ambient light
    sky_top: RGB
    sky_horizon: RGB
    lamps: float  # 0 off .. 1 the combine's work lights dominate
    noise: float  # sensor noise, grey levels (sigma)


def _mix(a: RGB, b: RGB, w: float) -> RGB:
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)


def light_at(hour: float, overcast: float = 0.0) -> Light:
    """Light at a local ``hour`` (sunrise about 6, sunset about 20); ``overcast`` 0..1 greys it."""
    sun = math.sin(math.pi * ((hour % 24.0) - 6.0) / 14.0) if 6.0 <= hour % 24.0 <= 20.0 else -0.3
    daylight = float(np.clip((sun + 0.12) / 0.45, 0.0, 1.0))
    dusk = math.exp(-(((daylight - 0.35) / 0.25) ** 2))  # warm, low light
    night = 1.0 - daylight
    tint = _mix(_mix((1.0, 1.0, 1.0), (1.15, 0.88, 0.7), dusk), (0.8, 0.9, 1.15), night**2)
    tint = _mix(tint, (0.95, 0.97, 1.0), overcast)
    sky_top = _mix(_mix((70.0, 120.0, 200.0), (90.0, 70.0, 120.0), dusk), (6.0, 8.0, 18.0), night**1.5)
    sky_horizon = _mix(_mix((185.0, 205.0, 230.0), (245.0, 150.0, 90.0), dusk), (14.0, 16.0, 28.0), night**1.5)
    grey = (150.0, 155.0, 160.0)
    sky_top = _mix(sky_top, _mix(grey, sky_top, night), overcast * 0.8)
    sky_horizon = _mix(sky_horizon, _mix(grey, sky_horizon, night), overcast * 0.8)
    ambient = 0.08 + 0.92 * daylight * (1.0 - 0.35 * overcast)
    return Light(
        daylight=ambient,
        tint=tint,
        sky_top=sky_top,
        sky_horizon=sky_horizon,
        lamps=float(np.clip(1.2 * (0.55 - daylight) / 0.55, 0.0, 1.0)),
        noise=2.0 + 9.0 * night,
    )


@dataclass(frozen=True)
class Weather:
    """Per-frame conditions for one combine."""

    hour: F64
    rain: F64  # 0..1
    dust: F64  # 0..1
    dirt: F64  # 0..1, lens dirt


def rain_episodes(rng: np.random.Generator, duration: float) -> list[tuple[float, float, float]]:
    """Shift-wide showers as (start, end, intensity); most shifts are dry."""
    if rng.random() > 0.3:
        return []
    episodes = []
    for _ in range(int(rng.integers(1, 3))):
        start = float(rng.uniform(-600, duration))
        episodes.append((start, start + float(rng.uniform(300, 1800)), float(rng.uniform(0.3, 1.0))))
    return episodes


def build_weather(
    timeline: Timeline,
    rng: np.random.Generator,
    *,
    start_hour: float,
    rain: list[tuple[float, float, float]],
    duration: float,
) -> Weather:
    t = timeline.times
    wet = np.zeros(len(t))
    for start, end, level in rain:
        ramp = np.clip(np.minimum(t - start, end - t) / 60.0, 0, 1)
        wet = np.maximum(wet, level * ramp)
    dryness = float(rng.uniform(0.2, 1.0))
    phase = float(rng.uniform(0, 2 * np.pi))
    gust = 0.75 + 0.25 * np.sin(t / 47.0 + phase) * np.sin(t / 13.0 + 2 * phase)
    moving = np.clip(timeline.speed / 1.5, 0, 1)
    dust = dryness * (1 - wet) * gust * (0.55 * timeline.cutting + 0.15 * moving + 0.35 * timeline.flow)
    dirt0 = float(rng.uniform(0.0, 0.55))
    return Weather(
        hour=(start_hour + t / 3600.0) % 24.0,
        rain=wet,
        dust=np.clip(dust, 0, 1),
        dirt=np.clip(dirt0 + 0.3 * t / max(duration, 1.0) + 0.3 * wet, 0, 1),
    )
