"""One deployment to evaluate: a model in a quantization on a TP group of one GPU type."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlway.plan.gpus import GpuSpec
from mlway.plan.knobs import EngineKnobs
from mlway.plan.modelspec import ModelSpec
from mlway.plan.quant import QuantScheme, kv_bytes


@dataclass(frozen=True)
class Deployment:
    """What runs where: model, weight scheme, GPU type, tensor-parallel size, engine knobs."""

    model: ModelSpec
    scheme: QuantScheme
    gpu: GpuSpec
    tp: int = 1
    knobs: EngineKnobs = field(default_factory=EngineKnobs)

    @property
    def kv_dtype(self) -> str:
        return self.knobs.kv_cache_dtype

    @property
    def kv_element_bytes(self) -> float:
        """Bytes per KV element (``auto`` = 16-bit)."""
        return kv_bytes("fp16" if self.knobs.kv_cache_dtype == "auto" else self.knobs.kv_cache_dtype)

    @property
    def total_bytes(self) -> float:
        """The GPU memory the driver reports, or the user's override."""
        return (self.knobs.gpu_memory_gib or self.gpu.usable_gib) * 1024**3
