"""Tiny real models and bundles for tests and examples, built locally with the ``onnx`` helper API.

    build_mlp(path)                 a classifier: input float32[batch, features] -> logits[batch, classes]
    build_convnet(path)             a conv net: image float32[batch, 3, H, W] -> logits[batch, classes]
    quantize_int8(src, dst, ...)    static QDQ int8 with onnxruntime.quantization (calibrated on random data)
    write_bundle(directory, ...)    a complete bundle: fp32 and int8 variants (+ a reduced input size
                                    for the conv net), sha256 of every file, a manifest

Needs the ``serve`` extra (onnx, onnxruntime). No download: weights are seeded random numbers.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlway.runtime.bundle import Bundle, file_entry, load_bundle, write_manifest
from mlway.runtime.manifest import BundleManifest, Quota, Variant

OPSET = 17
IR_VERSION = 8


def _onnx() -> Any:
    import onnx  # noqa: PLC0415 - optional, only for building test models

    return onnx


def _save(graph: Any, path: Path) -> Path:
    onnx = _onnx()
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _init(name: str, array: np.ndarray) -> Any:
    return _onnx().numpy_helper.from_array(array.astype(np.float32), name)


def build_mlp(
    path: str | Path, *, features: int = 16, hidden: int = 64, classes: int = 4, layers: int = 2, seed: int = 0
) -> Path:
    """A ReLU MLP classifier; ``hidden`` sets the activation memory per item (4 x hidden bytes per layer)."""
    onnx = _onnx()
    helper = onnx.helper
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    previous, width = "input", features
    for layer in range(layers):
        weight = rng.standard_normal((width, hidden)) / np.sqrt(width)
        inits += [_init(f"w{layer}", weight), _init(f"b{layer}", np.zeros(hidden))]
        nodes += [
            helper.make_node("MatMul", [previous, f"w{layer}"], [f"mm{layer}"]),
            helper.make_node("Add", [f"mm{layer}", f"b{layer}"], [f"add{layer}"]),
            helper.make_node("Relu", [f"add{layer}"], [f"h{layer}"]),
        ]
        previous, width = f"h{layer}", hidden
    inits += [_init("w_out", rng.standard_normal((width, classes)) / np.sqrt(width)), _init("b_out", np.zeros(classes))]
    nodes += [
        helper.make_node("MatMul", [previous, "w_out"], ["mm_out"]),
        helper.make_node("Add", ["mm_out", "b_out"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", classes])],
        initializer=inits,
    )
    return _save(graph, Path(path))


def build_convnet(path: str | Path, *, channels: int = 3, width: int = 8, classes: int = 4, seed: int = 0) -> Path:
    """Two 3x3 convolutions, global average pooling and a linear head; any image size works."""
    onnx = _onnx()
    helper = onnx.helper
    rng = np.random.default_rng(seed)
    inits = [
        _init("c1_w", rng.standard_normal((width, channels, 3, 3)) / 3),
        _init("c1_b", np.zeros(width)),
        _init("c2_w", rng.standard_normal((width * 2, width, 3, 3)) / np.sqrt(9 * width)),
        _init("c2_b", np.zeros(width * 2)),
        _init("fc_w", rng.standard_normal((width * 2, classes)) / np.sqrt(width * 2)),
        _init("fc_b", np.zeros(classes)),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "c2_w", "c2_b"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc_w"], ["mm"]),
        helper.make_node("Add", ["mm", "fc_b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", channels, "height", "width"])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", classes])],
        initializer=inits,
    )
    return _save(graph, Path(path))


def quantize_int8(
    src: str | Path, dst: str | Path, *, input_name: str, shape: Sequence[int], samples: int = 16
) -> Path:
    """Static QDQ int8 (uint8 activations, int8 weights), calibrated on seeded random inputs."""
    from onnxruntime.quantization import (  # noqa: PLC0415 - optional
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            rng = np.random.default_rng(1)
            self._items: Iterator[dict[str, np.ndarray]] = iter(
                [{input_name: rng.standard_normal(tuple(shape)).astype(np.float32)} for _ in range(samples)]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._items, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime.quantization logs advice on the root logger
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / "model.onnx"
        staged.write_bytes(Path(src).read_bytes())
        quantize_static(
            str(staged),
            str(dst),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    root.setLevel(level)
    return Path(dst)


def write_bundle(
    directory: str | Path,
    *,
    name: str,
    kind: Literal["mlp", "conv"] = "mlp",
    variants: Sequence[str] = ("fp32", "int8"),
    version: str = "1.0.0",
    memory: str = "512MiB",
    cpu_threads: int = 1,
    max_concurrency: int = 1,
    max_queue: int = 64,
    priority: int = 0,
    pinned: bool = False,
    memory_bytes: dict[str, int] | None = None,
    hidden: int = 64,
    image_size: int = 32,
    seed: int = 0,
) -> Bundle:
    """Write a complete bundle of a tiny model. Variants: fp32, int8 and (conv only) int8-small (half size)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    if kind == "mlp":
        input_name, features = "input", 16
        fp32 = build_mlp(root / "fp32.onnx", features=features, hidden=hidden, seed=seed)
        shape: list[int | str] = ["batch", features]
        calibration = [8, features]
    else:
        input_name = "image"
        fp32 = build_convnet(root / "fp32.onnx", seed=seed)
        shape = ["batch", 3, image_size, image_size]
        calibration = [2, 3, image_size, image_size]
    if any(v.startswith("int8") for v in variants):
        quantize_int8(fp32, root / "int8.onnx", input_name=input_name, shape=calibration)
    entries: list[Variant] = []
    for variant in variants:
        entry = "fp32.onnx" if variant == "fp32" else "int8.onnx"
        overrides: dict[str, list[int | str]] = {}
        if variant == "int8-small":
            overrides = {input_name: ["batch", 3, image_size // 2, image_size // 2]}
        entries.append(
            Variant(
                name=variant,
                backend="onnxruntime",
                entry=entry,
                files=[file_entry(root, entry)],
                input_shapes=overrides,
                memory_bytes=(memory_bytes or {}).get(variant),
            )
        )
    manifest = BundleManifest.model_validate(
        {
            "name": name,
            "version": version,
            "task": "classify",
            "inputs": [{"name": input_name, "dtype": "float32", "shape": shape}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 4]}],
            "labels": ["idle", "harvesting", "unloading", "unloading_failure"],
            "variants": [v.model_dump() for v in entries],
            "quota": Quota(
                memory=memory,  # type: ignore[arg-type]
                cpu_threads=cpu_threads,
                max_concurrency=max_concurrency,
                max_queue=max_queue,
            ).model_dump(),
            "priority": priority,
            "pinned": pinned,
        }
    )
    write_manifest(root, manifest)
    return load_bundle(root)
