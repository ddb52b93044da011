"""A simulated shift in memory: every combine's schedule, timeline, weather and cameras, frames on demand.

Frame ``i`` of a camera depends only on (config, machine, camera, i), so files, the live stream and
previews show the same pixels, and any frame can be rendered without the ones before it.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import InputError, NotFoundError
from mlway.sim.config import ShiftConfig
from mlway.sim.environment import Weather, build_weather, rain_episodes
from mlway.sim.fleet import Machine, machine
from mlway.sim.labels import CAMERAS, CLASSES, Camera
from mlway.sim.render.camera import CameraRenderer
from mlway.sim.render.scene import Scene, scene_at
from mlway.sim.schedule import MachineSchedule, build_schedule
from mlway.sim.sensors import SensorClock, draw_clock
from mlway.sim.timeline import Timeline, build_timeline

_SCHEDULE, _WEATHER, _RAIN, _HOUR, _SENSORS = 1, 2, 3, 4, 5


class SimFrame(NamedTuple):
    """One camera frame with its ground truth; ``frame`` is RGB uint8 (height, width, 3)."""

    machine: str
    camera: str
    timestamp: float  # seconds since the shift's start, camera clock
    frame: NDArray[np.uint8]
    label: str
    frame_index: int


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


class Shift:
    """The whole simulated shift described by ``config``."""

    def __init__(self, config: ShiftConfig) -> None:
        self.config = config
        seed = config.seed
        self.start_hour = (
            config.start_hour if config.start_hour is not None else float(_rng(seed, _HOUR).uniform(5.0, 23.5))
        )
        self.machines: dict[str, Machine] = {}
        for i in range(config.machines):
            m = machine(config.first_machine + i, config.pose_seed)
            self.machines[m.id] = m
        self.schedules = self._schedules()
        n = config.frame_count
        self.timelines: dict[str, Timeline] = {
            mid: build_timeline(s, config.fps, n) for mid, s in self.schedules.items()
        }
        rain = rain_episodes(_rng(seed, _RAIN), config.duration_s)
        self.weather: dict[str, Weather] = {
            mid: build_weather(self.timelines[mid], _rng(seed, m.number, _WEATHER), start_hour=self.start_hour,
                               rain=rain, duration=config.duration_s)
            for mid, m in self.machines.items()
        }  # fmt: skip
        self.clocks: dict[str, SensorClock] = {
            mid: draw_clock(_rng(seed, m.number, _SENSORS)) for mid, m in self.machines.items()
        }
        self._renderers: dict[tuple[str, str], CameraRenderer] = {}

    def _schedules(self) -> dict[str, MachineSchedule]:
        """Each combine's schedule; if the shift holds fewer failures than asked, some are forced (seeded)."""
        c = self.config

        def build(m: Machine, force: bool) -> MachineSchedule:
            return build_schedule(m.id, _rng(c.seed, m.number, _SCHEDULE), c.duration_s, failure_rate=c.failure_rate,
                                  on_the_go_rate=c.on_the_go_rate, distractor_rate=c.distractor_rate,
                                  force_failure=force)  # fmt: skip

        out = {mid: build(m, False) for mid, m in self.machines.items()}
        order = _rng(c.seed, _SCHEDULE).permutation(len(self.machines)).tolist()
        ids = list(self.machines)
        for k in order:
            if sum(len(s.failures) for s in out.values()) >= c.min_failures:
                break
            mid = ids[k]
            if out[mid].unloadings and not out[mid].failures and c.failure_rate > 0:
                out[mid] = build(self.machines[mid], True)
        return out

    @property
    def frame_count(self) -> int:
        return self.config.frame_count

    @cached_property
    def streams(self) -> list[tuple[str, Camera]]:
        """Every (machine, camera) pair, in file order."""
        return [(mid, cam) for mid in self.machines for cam in CAMERAS]

    def _check(self, machine_id: str, camera: str, index: int) -> None:
        if machine_id not in self.machines:
            raise NotFoundError(
                f"no machine {machine_id!r} in this shift", hint=f"choose from {', '.join(self.machines)}"
            )
        if camera not in CAMERAS:
            raise NotFoundError(f"no camera {camera!r}", hint=f"choose from {', '.join(CAMERAS)}")
        if not 0 <= index < self.frame_count:
            raise InputError(f"frame {index} is outside the shift", hint=f"use 0..{self.frame_count - 1}")

    def scene(self, machine_id: str, index: int) -> Scene:
        return scene_at(self.timelines[machine_id], self.weather[machine_id], index)

    def label(self, machine_id: str, camera: str, index: int) -> str:
        tl = self.timelines[machine_id]
        return CLASSES[int((tl.header_label if camera == "header" else tl.auger_label)[index])]

    def renderer(self, machine_id: str, camera: Camera) -> CameraRenderer:
        key = (machine_id, camera)
        if key not in self._renderers:
            c = self.config
            self._renderers[key] = CameraRenderer(camera, self.machines[machine_id], c.width, c.height, c.seed)
        return self._renderers[key]

    def frame(self, machine_id: str, camera: Camera, index: int, scene: Scene | None = None) -> SimFrame:
        """Frame ``index`` of one camera, rendered on demand."""
        self._check(machine_id, camera, index)
        scene = scene or self.scene(machine_id, index)
        pixels = self.renderer(machine_id, camera).render(scene, index)
        ts = round(float(self.timelines[machine_id].times[index]), 3)
        return SimFrame(machine_id, camera, ts, pixels, self.label(machine_id, camera, index), index)
