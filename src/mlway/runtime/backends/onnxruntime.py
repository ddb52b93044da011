"""The onnxruntime backend: CPU everywhere, the CUDA provider where one is present."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlway.core.errors import ConfigError, DependencyMissingError
from mlway.runtime.backend import LoadSpec
from mlway.runtime.backends._common import MIB, check_names, check_options, files_bytes
from mlway.runtime.tensors import dummy_inputs

log = logging.getLogger(__name__)

OPTIONS = {
    "device": "'auto' (CUDA when present, else CPU), 'cpu' or 'cuda'",
    "graph_optimization": "'all' (default), 'extended', 'basic' or 'disable'",
    "allow_spinning": "true (default) lets idle intra-op threads spin for lower latency",
    "cpu_mem_arena": "true (default) keeps freed activation memory for reuse",
    "gpu_mem_limit": "bytes the CUDA provider's arena may use (framework memory cap on GPU)",
    "warm_up_runs": "inference calls made by warm_up (default 2)",
}
_LEVELS = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC"}
_LEVELS["disable"] = "ORT_DISABLE_ALL"


class OnnxRuntimeBackend:
    """An ``onnxruntime.InferenceSession`` with intra-op threads from the model's quota."""

    kind = "onnxruntime"
    engine_module = "onnxruntime"
    extra = "serve"

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.options = check_options(spec, self.kind, OPTIONS)
        self._session: Any = None
        self._outputs: list[str] = []
        self.providers: list[str] = []

    def memory_estimate(self) -> int:
        # the interpreter with numpy and onnxruntime (~60 MiB), initializers held twice while the
        # session is built (graph + prepacked weights), activations at small batches
        return 80 * MIB + 2 * files_bytes(self.spec)

    def load(self) -> None:
        try:
            import onnxruntime as ort  # noqa: PLC0415 - heavy optional engine, imported in the worker only
        except ImportError as exc:
            raise DependencyMissingError.for_extra("onnxruntime", "serve") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.spec.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = str(self.options.get("graph_optimization", "all"))
        if level not in _LEVELS:
            raise ConfigError(f"graph_optimization {level!r} is not one of {sorted(_LEVELS)}")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[level])
        options.enable_cpu_mem_arena = bool(self.options.get("cpu_mem_arena", True))
        if not self.options.get("allow_spinning", True):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.providers = self._providers(ort.get_available_providers())
        provider_options: list[dict[str, str]] = []
        for provider in self.providers:
            if provider == "CUDAExecutionProvider" and "gpu_mem_limit" in self.options:
                provider_options.append({"gpu_mem_limit": str(int(self.options["gpu_mem_limit"]))})
            else:
                provider_options.append({})
        self._session = ort.InferenceSession(
            str(self.spec.entry), sess_options=options, providers=self.providers, provider_options=provider_options
        )
        inputs = [i.name for i in self._session.get_inputs()]
        self._outputs = [o.name for o in self._session.get_outputs()]
        check_names(self.spec, self.kind, inputs, self._outputs)
        log.info("loaded %s/%s with %s", self.spec.model, self.spec.variant, self.providers)

    def _providers(self, available: list[str]) -> list[str]:
        device = str(self.options.get("device", "auto"))
        if device not in {"auto", "cpu", "cuda"}:
            raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda")
        has_cuda = "CUDAExecutionProvider" in available
        if device == "cuda" and not has_cuda:
            raise ConfigError(
                f"variant {self.spec.variant!r} asks for device 'cuda' but onnxruntime has no CUDA provider here",
                hint="install onnxruntime-gpu on a machine with a GPU, or set device: auto",
            )
        if device != "cpu" and has_cuda:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    def warm_up(self) -> None:
        inputs = dummy_inputs(self.spec.inputs)
        for _ in range(int(self.options.get("warm_up_runs", 2))):
            self.infer(inputs)

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._session is None:
            raise RuntimeError("infer before load")
        results = self._session.run(self._outputs, dict(inputs))
        return {name: np.asarray(value) for name, value in zip(self._outputs, results, strict=True)}

    def unload(self) -> None:
        self._session = None
