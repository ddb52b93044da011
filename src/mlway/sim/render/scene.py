"""One frame's worth of facts about a combine and its surroundings, as plain numbers for the painters."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlway.sim.environment import Light, Weather, light_at
from mlway.sim.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Scene:
    time: float
    speed: float
    distance: float
    heading: float
    pos_x: float
    pos_y: float
    header_up: float
    crop: bool
    cutting: float
    auger_out: float
    flow: float
    failure: int
    spill: float
    cart_pos: float | None
    cart_fill: float
    cart_style: int
    distractor_x: float | None
    distractor_depth: float
    tank_fill: float
    light: Light
    rain: float
    dust: float
    dirt: float
    progress: float  # 0..1 through the shift


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def scene_at(tl: Timeline, weather: Weather, i: int) -> Scene:
    rain = float(weather.rain[i])
    return Scene(
        time=float(tl.times[i]),
        speed=float(tl.speed[i]),
        distance=float(tl.distance[i]),
        heading=float(tl.heading[i]),
        pos_x=float(tl.pos_x[i]),
        pos_y=float(tl.pos_y[i]),
        header_up=float(tl.header_up[i]),
        crop=bool(tl.crop[i]),
        cutting=float(tl.cutting[i]),
        auger_out=float(tl.auger_out[i]),
        flow=float(tl.flow[i]),
        failure=int(tl.failure[i]),
        spill=float(tl.spill[i]),
        cart_pos=_opt(float(tl.cart_pos[i])),
        cart_fill=float(tl.cart_fill[i]),
        cart_style=int(tl.cart_style[i]),
        distractor_x=_opt(float(tl.distractor_x[i])),
        distractor_depth=float(tl.distractor_depth[i]),
        tank_fill=float(tl.tank_fill[i]),
        light=light_at(float(weather.hour[i]), overcast=min(1.0, rain * 1.5)),
        rain=rain,
        dust=float(weather.dust[i]),
        dirt=float(weather.dirt[i]),
        progress=float(i / max(1, len(tl) - 1)),
    )
