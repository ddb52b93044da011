"""Where frames come from: files, network and USB cameras, the simulator's live stream; and the runner that
keeps each one going (reconnect with backoff, restart on stall or end, every fault reported).

    source = open_source(camera_config)          # FileSource | StreamSource | SimSource by the URL's form
    runner = SourceRunner(camera_config, deliver=scheduler.offer)   # a thread per camera
"""

from __future__ import annotations

from pathlib import Path

from mlway.edge.config import CameraConfig
from mlway.edge.sources.base import Frame, Source, SourceError
from mlway.edge.sources.file import FileSource
from mlway.edge.sources.runner import SourceRunner, SourceState
from mlway.edge.sources.stream import StreamSource, usb_device

NETWORK = ("rtsp://", "rtsps://", "http://", "https://", "tcp://", "udp://", "rtmp://", "srt://")


def open_source(camera: CameraConfig, size: tuple[int, int] | None = None) -> Source:
    """The source a camera's ``source`` string names (not opened yet: ``read`` opens it).

    ``size`` (width, height): decoders scale frames to it while converting them to RGB (the model's
    stretch resize done in one pass); the simulator's stream ignores it (the preprocessing resizes).
    """
    url = camera.source
    if url.startswith("sim://"):
        from mlway.edge.sources.sim import SimSource  # noqa: PLC0415 - the simulator is optional

        return SimSource(url)
    if url.startswith(NETWORK) or usb_device(url) is not None:
        return StreamSource(
            url, connect_timeout_s=camera.connect_timeout_s, read_timeout_s=camera.read_timeout_s, size=size
        )
    path = Path(url.removeprefix("file://"))
    return FileSource(path, pace=camera.pace, size=size)


__all__ = ["Frame", "Source", "SourceError", "SourceRunner", "SourceState", "open_source"]
