"""The ground seen through a camera: a flat textured plane in perspective, moving and turning."""

from __future__ import annotations

import math

import cv2
import numpy as np

from mlway.sim.render.textures import F32, U8

TEXELS_PER_M = 20.0


class GroundView:
    """Rows below the horizon of a ``width`` x ``height`` canvas, mapped onto a tileable ground texture.

    ``height_m`` is the camera's height above the ground, ``focal`` its focal length as a fraction of
    the width, ``yaw`` the direction it looks relative to the driving direction (0 ahead, pi/2 left).
    """

    def __init__(
        self, width: int, height: int, *, horizon: float, height_m: float, focal: float, yaw: float, fog_m: float
    ) -> None:
        self.top = round(horizon * height)
        f = focal * width
        ys = np.arange(self.top, height, dtype=np.float32) - horizon * height + 0.5
        depth = height_m * f / np.maximum(ys, 1.5)  # metres ahead of the camera
        xs = np.arange(width, dtype=np.float32) - width / 2.0
        lateral = xs[None, :] * depth[:, None] / f  # metres to the right
        fwd = depth[:, None] * np.ones((1, width), np.float32)
        # camera frame -> combine frame (forward, right), turned by the camera's yaw
        c, s = math.cos(yaw), math.sin(yaw)
        self._fwd = (fwd * c - lateral * s).astype(np.float32)
        self._right = (lateral * c + fwd * s).astype(np.float32)
        self.fog = (1.0 - np.exp(-depth / fog_m)).astype(np.float32)[:, None, None]
        clear = np.broadcast_to((1.0 - self.fog) * 255.0, (len(ys), width, 3))
        self._clear = np.round(clear).astype(np.uint8)
        self._fog_layer: tuple[tuple[int, ...], U8] | None = None
        self._cache: tuple[float, F32, F32] | None = None

    def _turned(self, heading: float) -> tuple[F32, F32]:
        """Texture coordinates (texels) of every pixel with the combine at the origin, cached per heading."""
        key = round(heading, 4)
        if self._cache is None or self._cache[0] != key:
            c, s = math.cos(key), math.sin(key)
            u = (self._right * c + self._fwd * s) * TEXELS_PER_M
            v = (self._right * s - self._fwd * c) * TEXELS_PER_M
            self._cache = (key, u.astype(np.float32), v.astype(np.float32))
        return self._cache[1], self._cache[2]

    def sample(self, texture: U8, *, x_m: float, y_m: float, heading: float) -> U8:
        """The ground rows when the combine stands at (``x_m``, ``y_m``) heading ``heading`` radians."""
        u0, v0 = self._turned(heading)
        th, tw = texture.shape[:2]
        u = u0 + np.float32((x_m * TEXELS_PER_M) % tw)
        v = v0 + np.float32((-y_m * TEXELS_PER_M) % th)
        out = cv2.remap(texture, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        return np.asarray(out, np.uint8)

    def with_fog(self, rows: U8, color: tuple[float, float, float]) -> U8:
        """Blend distant ground towards the horizon's colour (in 8-bit, cached per colour)."""
        key = tuple(round(c) for c in color)
        if self._fog_layer is None or self._fog_layer[0] != key:
            layer = np.broadcast_to(self.fog * np.asarray(key, np.float32), rows.shape)
            self._fog_layer = (key, np.round(layer).astype(np.uint8))
        out = cv2.multiply(rows, self._clear, scale=1.0 / 255.0)
        return np.asarray(cv2.add(out, self._fog_layer[1]), np.uint8)
