"""Video files through PyAV: writing a camera's frames with a real codec, reading them back.

PyAV's wheels bundle FFmpeg with libx264 and mpeg4; a build without the chosen encoder is reported
with the fix instead of failing half-way through a shift.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from mlway.core.errors import DependencyMissingError, InputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

ENCODERS = {"h264": ("libx264", "h264"), "mpeg4": ("mpeg4",)}


def _av() -> Any:
    try:
        import av  # noqa: PLC0415 - PyAV loads only when video is read or written
    except ImportError as exc:
        raise DependencyMissingError.for_extra("av", "sim") from exc
    return av


def encoder_for(codec: str) -> str:
    """The FFmpeg encoder PyAV has for ``codec``, or a clear error naming the fix."""
    av = _av()
    if codec not in ENCODERS:
        raise InputError(f"unknown --codec {codec!r}", hint=f"choose one of: {', '.join(ENCODERS)}")
    available = av.codecs_available
    for name in ENCODERS[codec]:
        if name in available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # noqa: BLE001, S112 - a decoder-only build raises; try the next name
                continue
            return name
    other = next(c for c in ENCODERS if c != codec)
    raise DependencyMissingError(
        f"this PyAV/FFmpeg build has no {codec} encoder (looked for {', '.join(ENCODERS[codec])})",
        hint=f"pip install --force-reinstall 'av>=12' (its wheels bundle libx264), or pass --codec {other}",
    )


class VideoWriter:
    """Frames (RGB uint8, height x width x 3) into one video file; use as a context manager."""

    def __init__(self, path: Path, *, fps: float, width: int, height: int, codec: str = "h264", crf: int = 23) -> None:
        av = _av()
        encoder = encoder_for(codec)
        self._av = av
        self.path = path
        self._container = av.open(str(path), mode="w")
        rate = Fraction(fps).limit_denominator(1000)
        stream = self._container.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_count = 1  # deterministic bytes, and the one core the speed target allows
        if encoder == "libx264":
            stream.options = {"preset": "ultrafast", "crf": str(crf), "threads": "1"}
        else:  # mpeg4 has no CRF: a bit rate per pixel that halves every 6 steps of crf, as x264's does
            stream.bit_rate = int(width * height * fps * 0.3 * 2 ** ((23 - crf) / 6))
        stream.codec_context.time_base = 1 / rate
        self._stream = stream
        self.frames = 0

    def write(self, frame: NDArray[np.uint8]) -> None:
        vf = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = self.frames
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def read_frames(path: Path) -> Iterator[NDArray[np.uint8]]:
    """Decode a video file's frames as RGB uint8 arrays, in order."""
    av = _av()
    if not path.is_file():
        raise InputError(f"no video file at {path}", hint="run `mlway sim shift --out DIR` first")
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
