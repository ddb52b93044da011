"""A tiny real model and real video files whose events are known in advance, for tests, demos and benchmarks.

    bundle = write_colour_bundle(tmp / "colour")        # a classify bundle: the frame's mean colour -> label
    write_colour_video(tmp / "auger.mp4", [("black", 4), ("red", 6), ("black", 4)], fps=5)

The colour model (ONNX, built with the ``onnx`` helper API, no download) averages the image per channel
and scores idle for dark frames, harvesting for green, unloading for blue and unloading_failure for red,
with probabilities near 1. So a video with six seconds of red holds exactly one urgent event.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from mlway.edge.sources.av import av_module
from mlway.runtime import Bundle, BundleManifest, ImagePreprocessing, Quota, Variant, file_entry, write_manifest

LABELS = ["idle", "harvesting", "unloading", "unloading_failure"]
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "green": (0, 200, 0),
    "blue": (0, 0, 220),
    "red": (230, 0, 0),
}
"""Colours and the label the colour model gives them: idle, harvesting, unloading, unloading_failure."""
LABEL_OF = dict(zip(COLOURS, LABELS, strict=True))


def build_colour_model(path: Path, *, sharpness: float = 10.0) -> Path:
    import onnx  # noqa: PLC0415 - the serve extra
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    k = sharpness
    weight = k * np.array([[0, -0.5, -0.5, 1], [0, 1, -0.5, -0.5], [0, -0.5, 1, -0.5]], np.float32)
    bias = k * np.array([0.3, 0, 0, 0], np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def write_colour_bundle(directory: Path, *, size: int = 32, name: str = "colour") -> Bundle:
    """A complete bundle of the colour model (one fp32 variant at ``size`` x ``size``)."""
    build_colour_model(directory / "colour.onnx")
    manifest = BundleManifest(
        name=name,
        version="1.0.0",
        task="classify",
        description="Test model: the frame's mean colour decides the label.",
        inputs=[{"name": "image", "dtype": "float32", "shape": ["batch", 3, size, size]}],  # type: ignore[list-item]
        outputs=[{"name": "probs", "dtype": "float32", "shape": ["batch", 4]}],  # type: ignore[list-item]
        preprocessing=ImagePreprocessing(input="image"),
        labels=list(LABELS),
        variants=[
            Variant(
                name="fp32", backend="onnxruntime", entry="colour.onnx", files=[file_entry(directory, "colour.onnx")]
            )
        ],
        quota=Quota(memory=256 * 1024**2, cpu_threads=1),
    )
    return write_manifest(directory, manifest)


def write_colour_video(
    path: Path, segments: Sequence[tuple[str, float]], *, fps: float = 5.0, width: int = 64, height: int = 48
) -> Path:
    """A video of solid-colour segments ``(colour, seconds)``; a little noise keeps the codec honest."""
    av = av_module()
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        index = 0
        for colour, seconds in segments:
            base = np.array(COLOURS[colour], np.int16)
            for _ in range(round(seconds * fps)):
                noise = rng.integers(-8, 9, (height, width, 3), dtype=np.int16)
                pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = index
                index += 1
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
