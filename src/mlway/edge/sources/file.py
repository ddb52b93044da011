"""Video files through PyAV: at the file's real-time pace (as a camera would deliver) or flat out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlway.edge.sources.av import open_container, to_rgb
from mlway.edge.sources.base import SourceError


class FileSource:
    """A video file, decoded on one thread; ``pace='realtime'`` sleeps until each frame's time."""

    finite = True

    def __init__(
        self,
        path: Path,
        *,
        pace: str = "realtime",
        size: tuple[int, int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.size = size
        self.pace = pace
        self._sleep = sleep
        self._container: Any = None

    def read(self) -> Iterator[tuple[float | None, NDArray[np.uint8]]]:
        if not self.path.is_file():
            raise SourceError(f"no video file at {self.path}", hint="check the camera's source path")
        self._container = open_container(str(self.path))
        stream = self._container.streams.video[0]
        stream.thread_count = 1  # the cores belong to the model
        began: float | None = None
        first: float | None = None
        for frame in self._container.decode(stream):
            seconds = float(frame.time) if frame.time is not None else None
            if self.pace == "realtime" and seconds is not None:
                now = time.monotonic()
                if began is None or first is None:
                    began, first = now, seconds
                wait = began + (seconds - first) - now
                if wait > 0:
                    self._sleep(wait)
            yield seconds, to_rgb(frame, self.size)

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()
