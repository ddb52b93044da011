"""The live stream: a shift's frames as cameras would deliver them, in real time, faster, or flat out.

Frames come in time order; at one timestamp, machine by machine and header before auger. With
``speed=1.0`` a frame is yielded no earlier than its timestamp after the stream started; ``speed=10``
runs ten times faster; ``speed=None`` renders as fast as the CPU allows. A slow consumer is not
waited for: frames are never dropped here, they simply come late (the edge agent decides what to drop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from mlway.core.errors import InputError
from mlway.sim.config import ShiftConfig
from mlway.sim.labels import CAMERAS, Camera
from mlway.sim.shift import Shift, SimFrame


def _plan(
    shift: Shift, machines: Sequence[str] | None, cameras: Sequence[str] | None, start_s: float
) -> tuple[list[str], list[Camera], int]:
    chosen = list(machines) if machines else list(shift.machines)
    for m in chosen:
        if m not in shift.machines:
            raise InputError(f"no machine {m!r} in this shift", hint=f"choose from {', '.join(shift.machines)}")
    cams: list[Camera] = []
    for c in cameras or CAMERAS:
        if c not in CAMERAS:
            raise InputError(f"no camera {c!r}", hint=f"choose from {', '.join(CAMERAS)}")
        cams.append(c)
    first = round(start_s * shift.config.fps)
    if not 0 <= first < shift.frame_count:
        raise InputError(f"start {start_s}s is outside the shift", hint=f"use 0 to {shift.config.duration_s:.0f}s")
    return chosen, cams, first


def _check_speed(speed: float | None) -> None:
    if speed is not None and speed <= 0:
        raise InputError(f"invalid speed {speed}", hint="use a positive factor (1 = real time) or None for flat out")


def live_frames(
    config: ShiftConfig | Shift,
    *,
    speed: float | None = 1.0,
    machines: Sequence[str] | None = None,
    cameras: Sequence[str] | None = None,
    start_s: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SimFrame]:
    """Yield the shift's frames (machine, camera, timestamp, frame, label, index) paced by ``speed``."""
    _check_speed(speed)
    shift = config if isinstance(config, Shift) else Shift(config)
    chosen, cams, first = _plan(shift, machines, cameras, start_s)
    fps = shift.config.fps
    began = clock()
    for i in range(first, shift.frame_count):
        if speed is not None:
            due = began + (i - first) / fps / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        for m in chosen:
            scene = shift.scene(m, i)
            for cam in cams:
                yield shift.frame(m, cam, i, scene)


async def alive_frames(
    config: ShiftConfig | Shift,
    *,
    speed: float | None = 1.0,
    machines: Sequence[str] | None = None,
    cameras: Sequence[str] | None = None,
    start_s: float = 0.0,
) -> AsyncIterator[SimFrame]:
    """The async form of :func:`live_frames`: rendering runs in a worker thread, waits on the event loop."""
    _check_speed(speed)
    shift = config if isinstance(config, Shift) else await asyncio.to_thread(Shift, config)
    chosen, cams, first = _plan(shift, machines, cameras, start_s)
    fps = shift.config.fps
    loop = asyncio.get_running_loop()
    began = loop.time()

    def render(i: int) -> list[SimFrame]:
        out = []
        for m in chosen:
            scene = shift.scene(m, i)
            out += [shift.frame(m, cam, i, scene) for cam in cams]
        return out

    for i in range(first, shift.frame_count):
        if speed is not None:
            wait = began + (i - first) / fps / speed - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        for frame in await asyncio.to_thread(render, i):
            yield frame
