"""What happens between the scene and the pixels: light, the camera's mount, vibration, dust, rain, dirt, noise."""

from __future__ import annotations

import cv2
import numpy as np

from mlway.sim.environment import Light
from mlway.sim.fleet import CameraPose
from mlway.sim.render.scene import Scene
from mlway.sim.render.textures import F32, U8, dirt_mask, haze_tile, lamp_map, rain_tile

LAMP_TINT = np.asarray((1.05, 0.97, 0.85), np.float32)
DUST_RGB = np.asarray((205.0, 185.0, 145.0), np.float32)
DIRT_RGB = np.asarray((70.0, 58.0, 40.0), np.float32)


class Effects:
    """Per camera: lamps and sky in the canonical view, then everything a real lens adds."""

    def __init__(
        self,
        width: int,
        height: int,
        pose: CameraPose,
        *,
        horizon: float,
        lamp: tuple[tuple[float, float], tuple[float, float]],
        rng: np.random.Generator,
    ) -> None:
        self.w, self.h, self.pose = width, height, pose
        rows = np.arange(height, dtype=np.float32)[:, None, None]
        self.sky = (rows < round(horizon * height)).astype(np.float32)
        self.lamp = lamp_map((height, width), *lamp)[..., None] * (1.0 - self.sky)
        self.haze = haze_tile(rng, (2 * height, 2 * width))
        self.rain = rain_tile(rng, (2 * height, 2 * width))
        self.dirt = dirt_mask(rng, (height, width), int(rng.integers(2, 9)))
        self.noise = rng.standard_normal((2 * height, 2 * width)).astype(np.float32)
        self._gain: tuple[tuple[float, ...], F32] | None = None

    def _crop(self, tile: F32, rng: np.random.Generator) -> F32:
        y, x = int(rng.integers(0, self.h)), int(rng.integers(0, self.w))
        return tile[y : y + self.h, x : x + self.w]

    def _lighting(self, light: Light) -> F32:
        """Per-pixel gain: ambient light on the ground, the work lights' pool, the sky as it is."""
        key = (round(light.daylight, 3), *(round(t, 3) for t in light.tint), round(light.lamps, 3))
        if self._gain is None or self._gain[0] != key:
            ambient = np.asarray(key[1:4], np.float32) * key[0]
            gain = self.sky + (1.0 - self.sky) * ambient + self.lamp * (1.3 * key[4]) * LAMP_TINT
            self._gain = (key, gain.astype(np.float32))
        return self._gain[1]

    def apply(self, canvas: U8, s: Scene, rng: np.random.Generator) -> U8:
        light = s.light
        img = cv2.multiply(canvas, self._lighting(light), dtype=cv2.CV_8U)
        shake = 0.4 + 1.2 * min(1.0, s.speed / 1.5) + 0.8 * s.cutting
        jitter = (float(rng.normal(0, shake)), float(rng.normal(0, shake)))
        img = cv2.warpAffine(img, self.pose.matrix(self.w, self.h, jitter), (self.w, self.h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
        k = 1 + int(rng.integers(0, 1 + round(shake)))
        if k > 1:
            img = cv2.blur(img, (k, 1) if rng.random() < 0.6 else (1, k))
        # the lens: f * keep + sum(weight * colour) + grey, every term a single-channel map
        lit = 0.25 + 0.75 * max(light.daylight, 0.6 * light.lamps)
        keep = np.ones((self.h, self.w), np.float32)
        grey = self._crop(self.noise, rng) * np.float32(light.noise)
        tints: list[tuple[F32, np.ndarray]] = []
        if s.dust > 0.02:
            a = self._crop(self.haze, rng) * np.float32(min(0.85, s.dust)) * (1.0 - 0.9 * self.sky[..., 0])
            keep -= a
            tints.append((a, DUST_RGB * lit))
        if s.rain > 0.02:
            r = np.float32(1.0 - 0.25 * s.rain)
            keep *= r
            tints = [(w * r, c) for w, c in tints]
            grey += self._crop(self.rain, rng) * np.float32(110.0 * s.rain * lit) + np.float32(70.0 * s.rain * lit)
        if s.dirt > 0.02:
            d = self.dirt * np.float32(0.8 * min(1.0, s.dirt))
            keep *= 1.0 - d
            tints = [(w * (1.0 - d), c) for w, c in tints]
            grey *= 1.0 - d
            tints.append((d, DIRT_RGB * lit))
        channels = []
        for c, plane in enumerate(cv2.split(img)):
            f = plane * keep
            f += grey
            for weight, color in tints:
                f += weight * np.float32(color[c])
            channels.append(f)
        return np.asarray(cv2.convertScaleAbs(cv2.merge(channels)), np.uint8)  # |x|: noise folds at black
