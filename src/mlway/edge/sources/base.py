"""What every source yields, and the small protocol each kind of source implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import MlwayError


class SourceError(MlwayError):
    """A source could not be opened or failed while reading (the runner restarts it with backoff)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded camera frame on its way to the model."""

    camera: str
    index: int
    """Frames delivered by this camera since the agent started (across restarts)."""
    time_s: float
    """Stream time in seconds, non-decreasing per camera across restarts (the smoother's clock)."""
    wall: float
    """Wall clock when the frame was decoded."""
    mono: float
    """``time.monotonic()`` when the frame was decoded (alert latency is measured from here)."""
    pixels: NDArray[np.uint8]
    """RGB uint8 (height, width, 3)."""
    tensor: NDArray[np.float32] | None = None
    """The model's input for this frame, when the source thread already preprocessed it."""


class Source(Protocol):
    """One attempt at reading a camera. ``read`` opens it and yields ``(seconds, rgb)`` until it ends.

    ``seconds`` is the frame's presentation time in the stream, or ``None`` for live sources whose
    arrival time is the clock. A failure raises (``SourceError`` or the library's error); a normal
    end of a finite source returns.
    """

    finite: bool
    """Whether the source ends by itself (a file, a simulated shift)."""

    def read(self) -> Iterator[tuple[float | None, NDArray[np.uint8]]]: ...

    def close(self) -> None: ...
