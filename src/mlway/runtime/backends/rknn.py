"""The Rockchip NPU backend via rknn-toolkit-lite2 (``pip install 'mlway[rknn]'`` on the board).

rknn-toolkit-lite2 ships wheels for aarch64 Rockchip boards only; elsewhere ``load`` raises
``DependencyMissingError`` and the runtime moves to the model's next variant.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlway.core.errors import DependencyMissingError, MlwayError
from mlway.runtime.backend import LoadSpec
from mlway.runtime.backends._common import MIB, check_options, files_bytes
from mlway.runtime.tensors import dummy_inputs

OPTIONS = {
    "core_mask": "NPU cores: 'auto' (default), '0', '1', '2', '0_1', '0_1_2'",
    "warm_up_runs": "inference calls made by warm_up (default 1)",
}
_CORE_MASKS = {"auto": "NPU_CORE_AUTO", "0": "NPU_CORE_0", "1": "NPU_CORE_1", "2": "NPU_CORE_2"}
_CORE_MASKS |= {"0_1": "NPU_CORE_0_1", "0_1_2": "NPU_CORE_0_1_2"}


class RknnLiteBackend:
    """An ``RKNNLite`` runtime on the NPU; calls are serialised (the runtime is not thread-safe)."""

    kind = "rknn-lite"
    engine_module = "rknnlite"
    extra = "rknn"

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.options = check_options(spec, self.kind, OPTIONS)
        self._rknn: Any = None
        self._lock = threading.Lock()

    def memory_estimate(self) -> int:
        return 60 * MIB + 2 * files_bytes(self.spec)

    def load(self) -> None:
        try:
            from rknnlite.api import RKNNLite  # noqa: PLC0415 - board-only optional engine
        except ImportError as exc:
            raise DependencyMissingError.for_extra("rknnlite", "rknn") from exc
        mask = str(self.options.get("core_mask", "auto"))
        if mask not in _CORE_MASKS:
            raise MlwayError(f"core_mask {mask!r} is not one of {sorted(_CORE_MASKS)}")
        rknn = RKNNLite()
        if rknn.load_rknn(str(self.spec.entry)) != 0:
            raise MlwayError(f"rknn-lite could not load {self.spec.entry.name}")
        if rknn.init_runtime(core_mask=getattr(RKNNLite, _CORE_MASKS[mask])) != 0:
            rknn.release()
            raise MlwayError("rknn-lite could not initialise the NPU runtime", hint="is this a Rockchip board?")
        self._rknn = rknn

    def warm_up(self) -> None:
        inputs = dummy_inputs(self.spec.inputs)
        for _ in range(int(self.options.get("warm_up_runs", 1))):
            self.infer(inputs)

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._rknn is None:
            raise RuntimeError("infer before load")
        ordered = [inputs[spec.name] for spec in self.spec.inputs]
        with self._lock:
            results = self._rknn.inference(inputs=ordered)
        if results is None or len(results) != len(self.spec.outputs):
            raise MlwayError(f"rknn-lite returned {0 if results is None else len(results)} outputs")
        return {spec.name: np.asarray(value) for spec, value in zip(self.spec.outputs, results, strict=True)}

    def unload(self) -> None:
        if self._rknn is not None:
            self._rknn.release()
        self._rknn = None
