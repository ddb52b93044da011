"""The OpenVINO backend (``pip install 'mlway[openvino]'``): reads ONNX or OpenVINO IR, CPU by default."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlway.core.errors import DependencyMissingError
from mlway.runtime.backend import LoadSpec
from mlway.runtime.backends._common import MIB, check_names, check_options, files_bytes
from mlway.runtime.tensors import dummy_inputs

OPTIONS = {
    "device": "OpenVINO device name: CPU (default), GPU, NPU, AUTO",
    "performance_hint": "LATENCY (default) or THROUGHPUT",
    "precision": "f32 (default: what the model says) or bf16/f16 (OpenVINO's own default on CPUs with bf16)",
    "warm_up_runs": "inference calls made by warm_up (default 2)",
}


class OpenVinoBackend:
    """An OpenVINO compiled model; one infer request per calling thread."""

    kind = "openvino"
    engine_module = "openvino"
    extra = "openvino"

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.options = check_options(spec, self.kind, OPTIONS)
        self._compiled: Any = None
        self._outputs: list[tuple[str, Any]] = []
        self._local = threading.local()

    def memory_estimate(self) -> int:
        return 120 * MIB + 2 * files_bytes(self.spec)

    def load(self) -> None:
        try:
            import openvino  # noqa: PLC0415 - heavy optional engine, imported in the worker only
        except ImportError as exc:
            raise DependencyMissingError.for_extra("openvino", "openvino") from exc
        core = openvino.Core()
        model = core.read_model(str(self.spec.entry))
        config = {
            "INFERENCE_NUM_THREADS": self.spec.threads,
            "PERFORMANCE_HINT": str(self.options.get("performance_hint", "LATENCY")),
            "NUM_STREAMS": 1,
            # OpenVINO runs fp32 models in bf16 on CPUs that have it unless told otherwise: serve what was measured
            "INFERENCE_PRECISION_HINT": str(self.options.get("precision", "f32")),
        }
        self._compiled = core.compile_model(model, str(self.options.get("device", "CPU")), config)
        inputs = [port.get_any_name() for port in self._compiled.inputs]
        self._outputs = [(port.get_any_name(), port) for port in self._compiled.outputs]
        check_names(self.spec, self.kind, inputs, [name for name, _ in self._outputs])

    def warm_up(self) -> None:
        inputs = dummy_inputs(self.spec.inputs)
        for _ in range(int(self.options.get("warm_up_runs", 2))):
            self.infer(inputs)

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._compiled is None:
            raise RuntimeError("infer before load")
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        results = request.infer(dict(inputs))
        return {name: np.array(results[port]) for name, port in self._outputs}

    def unload(self) -> None:
        self._compiled = None
        self._local = threading.local()
