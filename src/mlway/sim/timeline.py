"""A combine's schedule sampled at the camera's frame times: everything the renderer and labels need."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlway.sim.labels import DRIVE_KINDS, FAILURE, FAILURE_MODES, HARVESTING, STATES, UNLOADING
from mlway.sim.schedule import MachineSchedule

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]

AUGER_SWING_S = 3.0
"""The auger swings out in the 3 s before grain flows and folds in the 3 s after."""
CART_ARRIVE_S = 25.0
CART_LEAVE_S = 15.0
DISTRACTOR_SLIDE_S = 20.0


@dataclass(frozen=True)
class Timeline:
    """Per-frame arrays for one combine (index = frame number)."""

    times: F64
    state: I8  # index into STATES
    header_label: I8  # index into CLASSES
    auger_label: I8
    speed: F64  # ground speed, m/s
    distance: F64  # m travelled
    heading: F64  # radians turned so far
    pos_x: F64  # m, position in the field
    pos_y: F64
    header_up: F64  # 0 down .. 1 raised
    crop: NDArray[np.bool_]  # standing crop ahead of the header
    cutting: F64  # 0..1, reel and knife running with crop coming in
    auger_out: F64  # 0 folded .. 1 out
    flow: F64  # 0..1, grain stream from our spout
    failure: I8  # 0 none, 1 no_flow, 2 blocked
    spill: F64  # 0..1, grain spilled beside the cart
    cart_pos: F64  # 0 parked under the spout .. 1 out of view; nan when absent
    cart_fill: F64  # 0..1
    cart_style: I8  # -1 when absent
    distractor_x: F64  # nan when no other combine is unloading in view
    distractor_depth: F64
    tank_fill: F64

    def __len__(self) -> int:
        return len(self.times)


def _ramp(target: F64, seconds: float, fps: float) -> F64:
    """A causal moving average: a step in ``target`` becomes a linear ramp ``seconds`` long."""
    k = max(1, round(seconds * fps))
    padded = np.concatenate([np.full(k - 1, target[0]), target])
    return np.convolve(padded, np.ones(k) / k, mode="valid")


def _between(t: F64, start: float, end: float) -> NDArray[np.bool_]:
    return (t >= start) & (t < end)


def build_timeline(schedule: MachineSchedule, fps: float, frames: int) -> Timeline:
    t = np.arange(frames, dtype=np.float64) / fps
    n = frames
    drive = np.zeros(n, np.int8)
    header_down = np.zeros(n, np.float64)
    target_speed = np.zeros(n)
    turn_rate = np.zeros(n)
    for seg in schedule.drive:
        m = _between(t, seg.start, seg.end)
        drive[m] = DRIVE_KINDS.index(seg.kind)
        header_down[m] = float(seg.header_down)
        if seg.kind == "harvesting":
            target_speed[m] = schedule.harvest_speed
        elif seg.kind == "turning":
            target_speed[m] = 1.4
            turn_rate[m] = np.pi / max(seg.end - seg.start, 1.0)
    speed = _ramp(target_speed, 2.0, fps)
    harvesting = drive == DRIVE_KINDS.index("harvesting")
    state = drive.copy()
    header_label = np.where(harvesting, HARVESTING, 0).astype(np.int8)
    auger_label = np.zeros(n, np.int8)
    auger_target, flow_target = np.zeros(n), np.zeros(n)
    failure, spill = np.zeros(n, np.int8), np.zeros(n)
    cart_pos, cart_fill = np.full(n, np.nan), np.zeros(n)
    cart_style = np.full(n, -1, np.int8)
    for u in schedule.unloadings:
        m = _between(t, u.start, u.end)
        state[m], auger_label[m] = STATES.index("unloading"), UNLOADING
        auger_target[_between(t, u.start - AUGER_SWING_S, u.end)] = 1.0
        flowing = m.copy()
        for f in u.failures:
            fm = _between(t, f.start, f.end)
            state[fm], auger_label[fm], flowing[fm] = STATES.index("unloading_failure"), FAILURE, False
            failure[fm] = 1 + FAILURE_MODES.index(f.mode)
            if f.mode == "blocked":
                after = _between(t, f.start, u.end + CART_LEAVE_S)
                spill[after] = np.clip((t[after] - f.start) / (f.end - f.start), 0, 1)
        flow_target[flowing] = 1.0
        window = _between(t, u.start - CART_ARRIVE_S, u.end + CART_LEAVE_S)
        arrive = np.clip((u.start - 5.0 - t) / (CART_ARRIVE_S - 5.0), 0, 1)
        leave = np.clip((t - u.end - 3.0) / (CART_LEAVE_S - 3.0), 0, 1)
        cart_pos[window] = np.maximum(arrive, leave)[window]
        cart_style[window] = u.cart_style
        poured = np.cumsum(flowing) / max(1, int(flowing.sum()))
        cart_fill[window] = np.clip(u.cart_fill + 0.6 * poured[window], 0, 1)
    dx, ddepth = np.full(n, np.nan), np.zeros(n)
    for d in schedule.distractors:
        m = _between(t, d.start, d.end)
        slide = np.clip(np.minimum(t - d.start, d.end - t) / DISTRACTOR_SLIDE_S, 0, 1)
        dx[m] = (d.x + (1 - slide) * (1.3 - d.x))[m]
        ddepth[m] = d.depth
    knots = np.array(schedule.fill)
    heading = np.cumsum(turn_rate) / fps
    return Timeline(
        times=t,
        state=state,
        header_label=header_label,
        auger_label=auger_label,
        speed=speed,
        distance=np.cumsum(speed) / fps,
        heading=heading,
        pos_x=np.cumsum(speed * np.sin(heading)) / fps,
        pos_y=np.cumsum(speed * np.cos(heading)) / fps,
        header_up=_ramp(1.0 - header_down, 2.0, fps),
        crop=header_down > 0.5,
        cutting=np.where(harvesting, np.clip(speed / schedule.harvest_speed, 0, 1), 0.0),
        auger_out=_ramp(auger_target, AUGER_SWING_S, fps),
        flow=_ramp(flow_target, 0.4, fps),
        failure=failure,
        spill=spill,
        cart_pos=cart_pos,
        cart_fill=cart_fill,
        cart_style=cart_style,
        distractor_x=dx,
        distractor_depth=ddepth,
        tank_fill=np.interp(t, knots[:, 0], knots[:, 1]),
    )
