"""Run an exported model with onnxruntime on frames, as the runtime and the edge agent will.

Preprocessing is what the bundle declares: resize (stretch) to the variant's input size, RGB, NCHW,
``pixel / 255``. Resizing uses OpenCV's area filter; the model was trained to tolerate bilinear too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlway.curate.dataset import Size
from mlway.curate.export import INPUT


def preprocess(frames: Iterable[NDArray[np.uint8]], size: Size) -> NDArray[np.float32]:
    """RGB uint8 frames (h, w, 3) of any size -> float32 (n, 3, height, width) in [0, 1]."""
    import cv2  # noqa: PLC0415 - comes with the sim extra

    out = [f if (f.shape[1], f.shape[0]) == size else cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2), np.float32) / np.float32(255.0)


def session(path: Path, threads: int = 1) -> Any:
    import onnxruntime as ort  # noqa: PLC0415 - the curate/serve extra

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def predict(path: Path, images: NDArray[np.uint8], *, threads: int = 1, batch: int = 64) -> NDArray[np.float32]:
    """Class probabilities of frames already resized to the input size ((n, h, w, 3) uint8)."""
    run = session(path, threads)
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        x = np.ascontiguousarray(chunk.transpose(0, 3, 1, 2), np.float32) / np.float32(255.0)
        out.append(run.run(["probs"], {INPUT: x})[0])
    return np.concatenate(out) if out else np.zeros((0, 4), np.float32)


def frames_per_second(path: Path, size: Size, *, threads: int, seconds: float = 3.0, batch: int = 1) -> float:
    """Frames/s of one session at batch ``batch`` on random input (median of timed runs, after warm-up)."""
    run = session(path, threads)
    width, height = size
    x = np.random.default_rng(0).random((batch, 3, height, width), dtype=np.float32)
    for _ in range(5):
        run.run(["probs"], {INPUT: x})
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 10:
        start = time.perf_counter()
        run.run(["probs"], {INPUT: x})
        times.append(time.perf_counter() - start)
    return round(batch / float(np.median(times)), 1)
