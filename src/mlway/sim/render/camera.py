"""One camera of one combine: its painter, its lens, and the seed of every frame."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mlway.sim.fleet import Machine
from mlway.sim.labels import CAMERAS, Camera
from mlway.sim.render import auger, header
from mlway.sim.render.effects import Effects
from mlway.sim.render.scene import Scene
from mlway.sim.render.textures import U8

_ASSET_TAG = 0xA55E7
_FRAME_TAG = 0xF4A3E


class Painter(Protocol):
    def paint(self, s: Scene, rng: np.random.Generator) -> U8: ...


class CameraRenderer:
    """Renders frame ``index`` of one camera; the same (seed, machine, camera, index) gives the same pixels."""

    def __init__(self, camera: Camera, machine: Machine, width: int, height: int, seed: int) -> None:
        self.camera, self.machine, self.seed = camera, machine, seed
        self._key = (seed, machine.number, CAMERAS.index(camera))
        rng = np.random.default_rng([*self._key, _ASSET_TAG])
        painter: Painter
        if camera == "header":
            painter = header.HeaderPainter(width, height, machine, rng)
            horizon, lamp = header.HORIZON, header.LAMP
        else:
            painter = auger.AugerPainter(width, height, machine, rng)
            horizon, lamp = auger.HORIZON, auger.LAMP
        self.painter = painter
        self.effects = Effects(width, height, machine.poses[camera], horizon=horizon, lamp=lamp, rng=rng)

    def render(self, scene: Scene, index: int) -> U8:
        rng = np.random.default_rng([*self._key, index, _FRAME_TAG])
        return self.effects.apply(self.painter.paint(scene, rng), scene, rng)
