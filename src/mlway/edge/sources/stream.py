"""Live network cameras (rtsp://, http(s)://, tcp://, udp://) and USB cameras (usb:N, /dev/videoN) via PyAV.

Network sources open and read with deadlines (``connect_timeout_s``, ``read_timeout_s``): a camera
that stops sending raises a timeout, and the runner reconnects with backoff. Frames carry no stream
time here: their arrival time is the clock (live sources cannot be replayed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlway.edge.sources.av import open_container, to_rgb

_USB = re.compile(r"^usb:(\d+)$")


def usb_device(source: str) -> str | None:
    """``usb:0`` -> ``/dev/video0``; ``/dev/video2`` stays; anything else is not a USB camera."""
    match = _USB.match(source)
    if match:
        return f"/dev/video{match.group(1)}"
    return source if source.startswith("/dev/video") else None


class StreamSource:
    """A live stream; reading never sleeps (the camera paces it)."""

    finite = False

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        size: tuple[int, int] | None = None,
    ) -> None:
        self.url = url
        self.size = size
        self.timeouts = (connect_timeout_s, read_timeout_s)
        self._container: Any = None

    def _open(self) -> Any:
        device = usb_device(self.url)
        if device is not None:
            return open_container(device, format="v4l2", timeout=self.timeouts)
        options = {"rtsp_transport": "tcp"} if self.url.startswith("rtsp") else {}
        return open_container(self.url, options=options, timeout=self.timeouts)

    def read(self) -> Iterator[tuple[float | None, NDArray[np.uint8]]]:
        self._container = self._open()
        stream = self._container.streams.video[0]
        stream.thread_count = 1
        for frame in self._container.decode(stream):
            yield None, to_rgb(frame, self.size)

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()
