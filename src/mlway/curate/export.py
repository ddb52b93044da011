"""From the trained network to ONNX files: fp32 with the temperature baked in, and int8 static QDQ.

The graph takes ``image`` float32 (batch, 3, height, width) with values ``pixel / 255`` and any size,
and returns ``probs`` (softmax of the temperature-scaled logits) and ``logits`` (already divided by
the temperature). Batch norm is folded into the convolutions by the exporter.

int8 is static QDQ (onnxruntime.quantization): int8 weights per channel, uint8 activations calibrated
on real training frames. Only convolutions, the linear head and the residual additions are
quantized; the temperature and softmax stay in float so the probabilities keep full resolution.
Dynamic quantization is avoided: it makes convolution nets slower on CPUs (docs/environment.md).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from mlway.curate.model import Calibrated, FrameNet

OPSET = 17
INPUT = "image"
OUTPUTS = ("probs", "logits")
QUANTIZED_OPS = ["Conv", "Gemm", "MatMul", "Add"]


def export_onnx(model: FrameNet, temperature: float, path: Path, size: tuple[int, int]) -> Path:
    """Write the calibrated network as ONNX (opset 17) with dynamic batch, height and width."""
    wrapped = Calibrated(model, temperature).eval()
    width, height = size
    dummy = torch.rand(1, 3, height, width)
    dynamic = {INPUT: {0: "batch", 2: "height", 3: "width"}} | {name: {0: "batch"} for name in OUTPUTS}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # torch 2.13 calls the TorchScript exporter "legacy"; it folds batch norm and needs no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            wrapped,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    _strip_doc(path)
    return path


def _strip_doc(path: Path) -> None:
    """Drop exporter doc strings (source paths of this machine) so the file is the same everywhere."""
    import onnx  # noqa: PLC0415 - the curate extra

    model = onnx.load(str(path))
    for node in model.graph.node:
        node.doc_string = ""
    model.producer_name, model.producer_version = "mlway.curate", ""
    onnx.save(model, str(path))


def quantize_int8(src: Path, dst: Path, calibration: NDArray[np.float32]) -> Path:
    """Static QDQ int8 of ``src`` calibrated on ``calibration`` (n, 3, h, w) float32 frames."""
    from onnxruntime.quantization import (  # noqa: PLC0415 - the curate extra
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    class Frames(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._items: Iterator[dict[str, NDArray[np.float32]]] = iter(
                [{INPUT: calibration[i : i + 16]} for i in range(0, len(calibration), 16)]
            )

        def get_next(self) -> dict[str, NDArray[np.float32]] | None:
            return next(self._items, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime.quantization logs advice on the root logger
    try:
        with tempfile.TemporaryDirectory() as scratch:
            prepared = Path(scratch) / "prepared.onnx"
            quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
            options: dict[str, Any] = {"ActivationSymmetric": False, "WeightSymmetric": True}
            quantize_static(
                str(prepared),
                str(dst),
                Frames(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=QUANTIZED_OPS,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options=options,
            )
    finally:
        root.setLevel(level)
    _strip_doc(dst)
    return dst
