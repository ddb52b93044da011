"""PyAV, imported lazily (the ``edge`` extra), and its errors translated into ``SourceError``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import DependencyMissingError
from mlway.edge.sources.base import SourceError


def av_module() -> Any:
    try:
        import av  # noqa: PLC0415 - optional, the edge extra
    except ImportError as exc:
        raise DependencyMissingError.for_extra("av", "edge") from exc
    return av


def open_container(url: str, **kwargs: Any) -> Any:
    """``av.open`` with its errors as ``SourceError`` naming the source."""
    av = av_module()
    try:
        return av.open(url, **kwargs)
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {url}: {exc}") from exc


def to_rgb(frame: Any, size: tuple[int, int] | None) -> NDArray[np.uint8]:
    """A decoded frame as RGB uint8 (h, w, 3); with ``size`` (width, height), scaled to it in the same pass
    (FFmpeg's swscale, area filter): the model's resize done while converting from YUV, not afterwards."""
    if size is None:
        return np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
    width, height = size
    return np.asarray(frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA"), np.uint8)
