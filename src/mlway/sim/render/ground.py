"""The ground seen through a camera: a flat textured plane in perspective, moving and turning."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from mlway.sim.render.textures import U8

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
        self._tiled: dict[int, tuple[U8, U8]] = {}
        self._cache: dict[tuple[float, int, int], tuple[NDArray[np.int16], NDArray[np.uint16]]] = {}

    def _turned(self, heading: float, size: tuple[int, int]) -> tuple[NDArray[np.int16], NDArray[np.uint16]]:
        """Fixed-point texture coordinates of every pixel with the combine at the origin, inside the texture.

        Cached per (heading, texture size); a frame then only adds a whole-texel offset and wraps, which
        keeps OpenCV's remap on its fast path (coordinates far outside the texture are several times slower).
        """
        key = (round(heading, 4), *size)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) > 64:
                self._cache.clear()
            c, s = math.cos(key[0]), math.sin(key[0])
            th, tw = size
            u = np.mod((self._right * c + self._fwd * s) * TEXELS_PER_M, tw).astype(np.float32)
            v = np.mod((self._right * s - self._fwd * c) * TEXELS_PER_M, th).astype(np.float32)
            whole, frac = cv2.convertMaps(u, v, cv2.CV_16SC2)
            cached = (np.asarray(whole, np.int16), np.asarray(frac, np.uint16))
            self._cache[key] = cached
        return cached

    def sample(self, texture: U8, *, x_m: float, y_m: float, heading: float) -> U8:
        """The ground rows when the combine stands at (``x_m``, ``y_m``) heading ``heading`` radians."""
        th, tw = texture.shape[:2]
        whole, frac = self._turned(heading, (th, tw))
        ox, oy = round(x_m * TEXELS_PER_M) % tw, round(-y_m * TEXELS_PER_M) % th
        # (x, y) int16 pairs read as one uint32 each: one add moves both, and no carry crosses as x < 2 * tw
        shifted = (whole.view(np.uint32) + np.uint32(ox + (oy << 16))).view(np.int16)
        tiled = self._tiled.get(id(texture))
        if tiled is None or tiled[0] is not texture:
            tiled = (texture, np.tile(texture, (2, 2, 1)))  # offset coordinates stay inside, no wrapping
            self._tiled[id(texture)] = tiled
        out = cv2.remap(tiled[1], shifted, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        return np.asarray(out, np.uint8)

    def with_fog(self, rows: U8, color: tuple[float, float, float]) -> U8:
        """Blend distant ground towards the horizon's colour (in 8-bit, cached per colour)."""
        key = tuple(round(c) for c in color)
        if self._fog_layer is None or self._fog_layer[0] != key:
            layer = np.broadcast_to(self.fog * np.asarray(key, np.float32), rows.shape)
            self._fog_layer = (key, np.round(layer).astype(np.uint8))
        out = cv2.multiply(rows, self._clear, scale=1.0 / 255.0)
        return np.asarray(cv2.add(out, self._fog_layer[1]), np.uint8)
