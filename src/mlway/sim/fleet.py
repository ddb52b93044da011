"""The fleet's fixed facts: each combine's paint and how its two cameras are mounted.

They depend on ``pose_seed`` and the machine number only, never on the shift's seed, so combine-04
looks the same in every shift while a combine never seen before brings new camera poses: the data
drift of the talk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from mlway.sim.config import machine_id
from mlway.sim.labels import CAMERAS, Camera

_POSE_TAG = 0x9053
_PAINTS: tuple[tuple[str, tuple[int, int, int], tuple[int, int, int]], ...] = (
    ("red", (176, 32, 28), (40, 40, 40)),
    ("green", (44, 112, 50), (222, 190, 40)),
    ("lime", (150, 178, 44), (232, 232, 226)),
    ("yellow", (224, 178, 36), (60, 60, 60)),
    ("blue", (40, 76, 150), (220, 220, 220)),
)


@dataclass(frozen=True, slots=True)
class CameraPose:
    """A camera mount: roll ``angle_deg``, shift ``offset_x``/``offset_y`` (fractions of the frame), ``zoom``."""

    angle_deg: float
    offset_x: float
    offset_y: float
    zoom: float

    def matrix(self, width: int, height: int, jitter: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
        """The 2x3 affine map from the canonical view to this camera's view."""
        m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), self.angle_deg, self.zoom)
        m[0, 2] += self.offset_x * width + jitter[0]
        m[1, 2] += self.offset_y * height + jitter[1]
        return np.asarray(m, np.float64)


@dataclass(frozen=True, slots=True)
class Machine:
    """One combine of the fleet."""

    id: str
    number: int
    paint: str
    body: tuple[int, int, int]
    accent: tuple[int, int, int]
    poses: dict[Camera, CameraPose]


def _pose(rng: np.random.Generator) -> CameraPose:
    angle = float(rng.uniform(-6.0, 6.0))
    ox, oy = float(rng.uniform(-0.07, 0.07)), float(rng.uniform(-0.07, 0.07))
    cover = 1.0 + abs(math.sin(math.radians(angle))) * 0.8 + 1.2 * max(abs(ox), abs(oy))
    return CameraPose(angle, ox, oy, max(float(rng.uniform(1.0, 1.2)), cover))


def machine(number: int, pose_seed: int = 0) -> Machine:
    """Combine ``number`` of the fleet drawn from ``pose_seed``."""
    rng = np.random.default_rng([pose_seed, number, _POSE_TAG])
    paint, body, accent = _PAINTS[int(rng.integers(0, len(_PAINTS)))]
    poses = {camera: _pose(rng) for camera in CAMERAS}
    return Machine(machine_id(number), number, paint, body, accent, poses)
