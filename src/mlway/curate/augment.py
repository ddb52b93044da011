"""Training-time augmentation of image batches, in torch: camera mount, light, sensor noise and input size.

The simulator's cameras differ between machines in roll, offset and zoom (the data drift of the talk),
and in light (day, dusk, night). A small random affine per image, brightness/contrast/colour gain,
noise, and now and then the reduced input size (so one set of weights serves both variants).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias


def random_affine(batch: torch.Tensor, generator: torch.Generator, *, degrees: float = 5.0, shift: float = 0.06,
                  zoom: tuple[float, float] = (0.92, 1.15)) -> torch.Tensor:  # fmt: skip
    """Rotate, shift and zoom each image a little (reflected borders)."""
    n = batch.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-degrees, degrees) * math.pi / 180
    scale = 1.0 / uniform(*zoom)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform(-shift, shift) * 2], 1),
            torch.stack([sin, cos, uniform(-shift, shift) * 2], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def photometric(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, per-channel gain and Gaussian noise; values stay in [0, 1]."""
    n = batch.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, generator=generator) * (high - low) + low

    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    contrast = uniform(0.75, 1.3, 1, 1, 1)
    out = (batch - mean) * contrast + mean
    out = out * uniform(0.65, 1.35, 1, 1, 1) * uniform(0.92, 1.08, 3, 1, 1)
    out = out + torch.randn(out.shape, generator=generator) * uniform(0.0, 0.03, 1, 1, 1)
    return out.clamp(0.0, 1.0)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``batch``: float (n, 3, h, w) in [0, 1]."""
    return photometric(random_affine(batch, generator), generator)


def resize(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """To (width, height) with an antialiased bilinear filter (close to OpenCV's area filter when shrinking)."""
    width, height = size
    if batch.shape[-1] == width and batch.shape[-2] == height:
        return batch
    return F.interpolate(batch, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
