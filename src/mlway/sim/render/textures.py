"""Procedural textures, tileable so they can scroll: standing crop, stubble, haze, rain, lens dirt."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


def periodic_noise(rng: np.random.Generator, shape: tuple[int, int], scale: tuple[float, float]) -> F32:
    """Smooth noise that tiles seamlessly: zero mean, unit deviation, feature size ``scale`` (rows, cols) px."""
    h, w = shape
    spectrum = np.fft.rfft2(rng.standard_normal(shape))
    fy = np.fft.fftfreq(h)[:, None] * scale[0]
    fx = np.fft.rfftfreq(w)[None, :] * scale[1]
    field = np.fft.irfft2(spectrum * np.exp(-(fy**2 + fx**2) * 4.0), s=shape)
    field -= field.mean()
    return np.asarray(field / (field.std() + 1e-9), np.float32)


def _colorize(base: tuple[float, float, float], shade: F32) -> U8:
    rgb = np.asarray(base, np.float32)[None, None, :] * shade[..., None]
    return np.asarray(np.clip(rgb, 0, 255), np.uint8)


def crop_texture(rng: np.random.Generator, shape: tuple[int, int], hue: float) -> U8:
    """Standing wheat seen from above and ahead: stalk streaks along the driving direction, ears, patches."""
    stalks = periodic_noise(rng, shape, (6.0, 0.7))
    patches = periodic_noise(rng, shape, (60.0, 60.0))
    ears = periodic_noise(rng, shape, (1.2, 1.0))
    shade = 0.84 + 0.08 * stalks + 0.08 * patches + 0.13 * ears
    base = (222.0 + 12 * hue, 176.0 + 8 * hue, 60.0 - 12 * hue)
    return _colorize(base, shade)


def stubble_texture(rng: np.random.Generator, shape: tuple[int, int], hue: float, windrow: float) -> U8:
    """Harvested ground: soil, short stubble rows, a straw windrow at ``windrow`` (0..1 across)."""
    w = shape[1]
    soil = 0.85 + 0.12 * periodic_noise(rng, shape, (40.0, 40.0)) + 0.06 * periodic_noise(rng, shape, (1.5, 1.5))
    stubs = periodic_noise(rng, shape, (1.2, 0.5))
    rows = (np.cos(np.arange(w, dtype=np.float32) * (2 * np.pi / 6.0)) > 0.55)[None, :]
    stub_mask = (stubs > 0.9) & rows
    soil_rgb = np.asarray((128.0 + 15 * hue, 104.0, 76.0 - 10 * hue), np.float32)
    straw_rgb = np.asarray((214.0, 190.0, 128.0), np.float32)
    img = soil_rgb[None, None, :] * soil[..., None]
    img[stub_mask] = straw_rgb * 0.95
    u = np.arange(w, dtype=np.float32) / w
    band = np.clip(1.0 - np.abs(u - windrow) / 0.06, 0, 1)[None, :]
    fibres = np.clip(0.7 + 0.5 * periodic_noise(rng, shape, (3.0, 1.0)), 0, 1.2)
    cover = np.clip(band * fibres * 1.4, 0, 1)[..., None]
    img = img * (1 - cover) + straw_rgb[None, None, :] * (0.8 + 0.2 * fibres[..., None]) * cover
    return np.asarray(np.clip(img, 0, 255), np.uint8)


def field_texture(crop: U8, stubble: U8, edge: float) -> U8:
    """Crop left of ``edge`` (0..1 across), stubble right of it: the combine cuts along the crop's edge."""
    out = stubble.copy()
    cut = int(edge * crop.shape[1])
    out[:, :cut] = crop[:, :cut]
    return out


def haze_tile(rng: np.random.Generator, shape: tuple[int, int]) -> F32:
    """Dust clouds: soft blobs, 0..1."""
    return np.asarray(np.clip(0.5 + 0.35 * periodic_noise(rng, shape, (25.0, 35.0)), 0, 1), np.float32)


def rain_tile(rng: np.random.Generator, shape: tuple[int, int]) -> F32:
    """Slanted streaks of falling rain, 0..1 (rows, cols)."""
    h, w = shape
    layer = np.zeros(shape, np.uint8)
    count = h * w // 250
    xs, ys = rng.integers(0, w, count), rng.integers(0, h, count)
    lengths = rng.integers(6, 16, count)
    for x, y, n in zip(xs.tolist(), ys.tolist(), lengths.tolist(), strict=True):
        cv2.line(layer, (x, y), (x + n // 4, y + n), int(rng.integers(90, 255)), 1, cv2.LINE_AA)
    return layer.astype(np.float32) / 255.0


def dirt_mask(rng: np.random.Generator, shape: tuple[int, int], spots: int) -> F32:
    """Mud and dust spots on the lens, 0..1, blurred as out-of-focus dirt is."""
    h, w = shape
    mask = np.zeros(shape, np.float32)
    for _ in range(spots):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(w // 40 + 2, w // 8 + 3)), int(rng.integers(h // 40 + 2, h // 8 + 3)))
        cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.3, 1.0)), -1)
    edge = periodic_noise(rng, shape, (8.0, 8.0))
    mask *= np.clip(0.8 + 0.3 * edge, 0, 1)
    sigma = max(h, w) / 60.0
    return np.clip(cv2.GaussianBlur(mask, (0, 0), sigma), 0, 1).astype(np.float32)


def lamp_map(shape: tuple[int, int], center: tuple[float, float], radius: tuple[float, float]) -> F32:
    """A work light's pool: 1 at ``center`` (fractions of width, height), falling off over ``radius``."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32)[:, None] / h - center[1]) / radius[1]
    x = (np.arange(w, dtype=np.float32)[None, :] / w - center[0]) / radius[0]
    return np.exp(-(x**2 + y**2)).astype(np.float32)
