"""Drawing primitives on RGB uint8 canvases, in fractions of the canvas size."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from mlway.sim.render.textures import U8

RGB = tuple[float, float, float]
Point = tuple[float, float]

GRAIN: RGB = (222.0, 178.0, 84.0)
GRAIN_DARK: RGB = (176.0, 132.0, 56.0)


def px(img: U8, p: Point) -> tuple[int, int]:
    """A point in fractions of (width, height) -> integer pixels."""
    h, w = img.shape[:2]
    return round(p[0] * w), round(p[1] * h)


def poly(img: U8, points: list[Point], color: RGB) -> None:
    h, w = img.shape[:2]
    pts = np.array([[p[0] * w, p[1] * h] for p in points], np.float64)
    cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], color, cv2.LINE_AA, shift=4)


def line(img: U8, a: Point, b: Point, color: RGB, thickness: float) -> None:
    """A line ``thickness`` in fractions of the height (at least 1 px)."""
    t = max(1, round(thickness * img.shape[0]))
    cv2.line(img, px(img, a), px(img, b), color, t, cv2.LINE_AA)


def segments(img: U8, starts: NDArray[np.float64], ends: NDArray[np.float64], color: RGB, thickness: float) -> None:
    """Many lines of one colour in one call: ``starts`` and ``ends`` are (n, 2) arrays of fractions."""
    if len(starts) == 0:
        return
    h, w = img.shape[:2]
    scale = np.array([w * 16.0, h * 16.0])
    pts = np.round(np.stack([starts, ends], axis=1) * scale).astype(np.int32)
    t = max(1, round(thickness * h))
    cv2.polylines(img, list(pts), isClosed=False, color=color, thickness=t, lineType=cv2.LINE_AA, shift=4)


def ellipse(img: U8, center: Point, axes: Point, color: RGB, angle: float = 0.0) -> None:
    h, w = img.shape[:2]
    size = (max(1, round(axes[0] * w)), max(1, round(axes[1] * h)))
    cv2.ellipse(img, px(img, center), size, angle, 0, 360, color, -1, cv2.LINE_AA)


def shade(color: RGB, k: float) -> RGB:
    return (min(255.0, color[0] * k), min(255.0, color[1] * k), min(255.0, color[2] * k))


def mix(a: RGB, b: RGB, w: float) -> RGB:
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)


_SKY: dict[tuple[int, ...], U8] = {}


def sky(img: U8, rows: int, top: RGB, horizon: RGB) -> None:
    """A vertical gradient from ``top`` to ``horizon`` over the first ``rows`` rows (cached per colours)."""
    if rows <= 0:
        return
    key = (rows, img.shape[1], *(round(c) for c in top), *(round(c) for c in horizon))
    if key not in _SKY:
        if len(_SKY) > 256:
            _SKY.clear()
        w = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
        grad = np.asarray(key[2:5], np.float32) * (1 - w) + np.asarray(key[5:8], np.float32) * w
        _SKY[key] = np.ascontiguousarray(np.broadcast_to(grad[:, None, :], (rows, img.shape[1], 3))).astype(np.uint8)
    img[:rows] = _SKY[key]


def treeline_profile(rng: np.random.Generator, width: int) -> NDArray[np.float32]:
    """Heights 0..1 of a distant tree line, tileable over ``width`` columns."""
    spectrum = np.fft.rfft(rng.standard_normal(width))
    f = np.fft.rfftfreq(width) * 40.0
    prof = np.fft.irfft(spectrum * np.exp(-(f**2)), n=width)
    prof = (prof - prof.min()) / (np.ptp(prof) + 1e-9)
    return np.asarray(np.clip(prof * 1.4 - 0.35, 0.0, 1.0), np.float32)


def treeline(img: U8, profile: NDArray[np.float32], horizon_row: int, *, shift: int, color: RGB, tall: float) -> None:
    """Trees standing on the horizon; ``shift`` scrolls them as the combine turns."""
    w = img.shape[1]
    cols = np.roll(profile, shift)[:w] if profile.shape[0] >= w else np.resize(profile, w)
    band = max(1, round(tall * img.shape[0]))
    top = max(0, horizon_row - band)
    heights = np.round(cols * tall * img.shape[0]).astype(np.int32)
    rows = np.arange(top, horizon_row)[:, None]
    mask = rows >= horizon_row - heights[None, :]
    img[top:horizon_row][mask] = np.asarray(color, np.uint8)


def grain_stream(img: U8, rng: np.random.Generator, top: Point, bottom: Point, *, width: float, flow: float) -> None:
    """A falling grain stream from ``top`` to ``bottom``: ``width`` is its full width (fraction of W)."""
    if flow <= 0.02:
        return
    w = width * (0.35 + 0.65 * flow)
    spread = 1.5
    poly(img, [(top[0] - w / 2, top[1]), (top[0] + w / 2, top[1]),
               (bottom[0] + w * spread / 2, bottom[1]), (bottom[0] - w * spread / 2, bottom[1])], GRAIN)  # fmt: skip
    k = int(4 + 6 * flow)
    a = rng.uniform(-0.5, 0.5, k)
    b = a * spread + rng.uniform(-0.15, 0.15, k)
    starts = np.stack([top[0] + a * w, np.full(k, top[1])], axis=1)
    ends = np.stack([bottom[0] + b * w, np.full(k, bottom[1])], axis=1)
    dark = rng.random(k) < 0.5
    segments(img, starts[dark], ends[dark], GRAIN_DARK, 0.004)
    segments(img, starts[~dark], ends[~dark], (246.0, 214.0, 128.0), 0.004)
    h, wpx = img.shape[:2]
    n = int(30 * flow * w * 10)
    ys = rng.uniform(top[1], bottom[1], n)
    frac = (ys - top[1]) / max(bottom[1] - top[1], 1e-6)
    xs = top[0] + (bottom[0] - top[0]) * frac + rng.uniform(-0.8, 0.8, n) * w * (1 + (spread - 1) * frac)
    img[np.clip((ys * h).astype(int), 0, h - 1), np.clip((xs * wpx).astype(int), 0, wpx - 1)] = (250, 222, 140)
