"""The engine memory knobs a user may set."""

from __future__ import annotations

from pydantic import Field

from mlway.core.model import StrictModel


class EngineKnobs(StrictModel):
    """Memory and batching settings; None means the engine's default."""

    gpu_memory_utilization: float | None = Field(
        default=None, gt=0, le=1, description="vLLM utilization / SGLang static fraction / TRT KV fraction"
    )
    block_size: int | None = Field(default=None, ge=1, description="KV block (page) size in tokens")
    max_num_seqs: int | None = Field(default=None, ge=1, description="sequences batched at once")
    max_num_batched_tokens: int | None = Field(default=None, ge=1, description="tokens per engine step")
    kv_cache_dtype: str = Field(default="auto", description="auto (= 16-bit), fp8, int8, q8_0")
    non_torch_gib: float | None = Field(default=None, ge=0, description="memory outside torch, GiB")
    gpu_memory_gib: float | None = Field(default=None, gt=0, description="override the GPU's total, GiB")
