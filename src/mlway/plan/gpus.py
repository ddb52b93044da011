"""GPU specifications: memory, bandwidth, dense tensor throughput per precision, links, price."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.plan.quant import Compute

GIB = 1024**3


class Interconnect(StrictModel):
    """How the GPUs of one server talk during tensor-parallel all-reduces."""

    kind: Literal["nvlink", "pcie", "xgmi"]
    bandwidth_gbs: float = Field(gt=0, description="GB/s per direction per GPU")
    latency_us: float = Field(gt=0, description="latency of one small all-reduce, microseconds")


class Price(StrictModel):
    """An on-demand price per GPU hour, with when and where it was seen."""

    usd_per_hour: float = Field(gt=0)
    date: str = Field(description="when the price was observed, YYYY-MM")
    source: str


class GpuSpec(StrictModel):
    """One accelerator model."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    vendor: Literal["nvidia", "amd", "other"] = "nvidia"
    arch: str = Field(description="ampere, ada, hopper, turing, cdna3, ...")
    memory_gb: float = Field(gt=0, description="marketed memory, GB")
    usable_gib: float = Field(gt=0, description="total memory the driver reports to torch, GiB")
    usable_source: str = Field(default="estimate", description="where usable_gib comes from")
    bandwidth_tbs: float = Field(gt=0, description="memory bandwidth, TB/s")
    tflops_bf16: float = Field(gt=0, description="dense BF16/FP16 tensor TFLOPS, FP32 accumulate")
    tflops_fp16_acc16: float | None = Field(
        default=None, description="dense FP16 TFLOPS with FP16 accumulate, where higher (GeForce)"
    )
    tflops_fp8: float | None = Field(default=None, description="dense FP8 TFLOPS; None = no FP8 units")
    tops_int8: float | None = Field(default=None, description="dense INT8 TOPS")
    interconnect: Interconnect
    max_per_node: int = Field(default=8, ge=1, description="GPUs one server holds (TP limit)")
    price: Price
    source: str = Field(default="", description="where the specifications come from")

    @property
    def usable_bytes(self) -> float:
        return self.usable_gib * GIB

    @property
    def bandwidth_bytes(self) -> float:
        return self.bandwidth_tbs * 1e12

    @property
    def supports_fp8(self) -> bool:
        return self.tflops_fp8 is not None

    def peak_flops(self, compute: Compute, *, fp16_accumulate: bool = False) -> float:
        """Dense FLOP/s for matmuls in ``compute`` precision (falls back to 16-bit without units)."""
        if compute == "fp8" and self.tflops_fp8:
            return self.tflops_fp8 * 1e12
        if compute == "int8" and self.tops_int8:
            return self.tops_int8 * 1e12
        if fp16_accumulate and self.tflops_fp16_acc16:
            return self.tflops_fp16_acc16 * 1e12
        return self.tflops_bf16 * 1e12

    def names(self) -> list[str]:
        return [self.name, *self.aliases]
