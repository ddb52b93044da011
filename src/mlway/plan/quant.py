"""Quantization schemes: what each costs in weight bytes and what its matrix multiplies run at.

Bits per weight include the scheme's own overhead. AWQ and GPTQ int4 store, per group of 128
weights of one output column, a 16-bit scale and a 4-bit zero point: 4 + (16 + 4) / 128 = 4.16
bits. Both keep the embeddings and the lm_head in 16 bits (vLLM does not quantize them). GGUF
Q4_K_M mixes Q4_K (4.5 bits) with Q6_K (6.5625 bits) for about half of the attn_v and ffn_down
tensors and for the output matrix; Q8_0 is 8.5 bits everywhere.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field

from mlway.core.errors import NotFoundError
from mlway.core.model import StrictModel
from mlway.plan.modelspec import ModelSpec

Compute = Literal["fp16", "fp8", "int8"]


class QuantScheme(StrictModel):
    """One way of storing the weights."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str
    linear_bits: float = Field(gt=0, description="bits per weight of the transformer-block matrices")
    embed_bits: float | None = Field(default=None, description="embedding bits; None = 16-bit")
    lm_head_bits: float | None = Field(default=None, description="lm_head bits; None = 16-bit")
    small_bits: float = Field(default=16, description="norms and biases")
    compute: Compute = Field(description="tensor-core precision the matmuls run at when supported")
    weight_only: bool = Field(description="weights are dequantized to 16 bits inside the matmul")
    hf_methods: list[str] = Field(default_factory=list, description="quant_method values of checkpoints")
    vllm_flag: str | None = Field(default=None, description="value of vLLM's --quantization")
    gguf: bool = False


SCHEMES: tuple[QuantScheme, ...] = (
    QuantScheme(
        name="bf16",
        aliases=["fp16", "float16", "bfloat16", "auto", "none", "16bit"],
        description="16-bit weights as trained",
        linear_bits=16,
        compute="fp16",
        weight_only=False,
    ),
    QuantScheme(
        name="fp8",
        aliases=["fp8-e4m3", "w8a8-fp8", "modelopt-fp8"],
        description="8-bit float weights and activations (Hopper/Ada/MI300); weight-only on older GPUs",
        linear_bits=8.0,
        compute="fp8",
        weight_only=False,
        hf_methods=["fp8", "modelopt", "fbgemm_fp8"],
        vllm_flag="fp8",
    ),
    QuantScheme(
        name="int8",
        aliases=["w8a8", "w8a8-int8", "smoothquant"],
        description="8-bit integer weights and activations (a W8A8 checkpoint)",
        linear_bits=8.0,
        compute="int8",
        weight_only=False,
        hf_methods=["compressed-tensors", "w8a8"],
    ),
    QuantScheme(
        name="awq-int4",
        aliases=["awq", "awq-4bit", "w4a16-awq"],
        description="4-bit weights, group 128, fp16 scale + 4-bit zero; 16-bit embeddings and lm_head",
        linear_bits=4 + (16 + 4) / 128,
        compute="fp16",
        weight_only=True,
        hf_methods=["awq"],
        vllm_flag="awq_marlin",
    ),
    QuantScheme(
        name="gptq-int4",
        aliases=["gptq", "gptq-4bit", "w4a16-gptq"],
        description="4-bit weights, group 128, fp16 scale + packed 4-bit zero; 16-bit embeddings and lm_head",
        linear_bits=4 + (16 + 4) / 128,
        compute="fp16",
        weight_only=True,
        hf_methods=["gptq"],
        vllm_flag="gptq_marlin",
    ),
    QuantScheme(
        name="gguf-q4_k_m",
        aliases=["q4_k_m", "q4km", "gguf-q4"],
        description="llama.cpp Q4_K_M: Q4_K (4.5 bits) with Q6_K for half of attn_v/ffn_down and the output",
        linear_bits=4.8,
        embed_bits=4.5,
        lm_head_bits=6.5625,
        small_bits=32,
        compute="fp16",
        weight_only=True,
        gguf=True,
    ),
    QuantScheme(
        name="gguf-q8_0",
        aliases=["q8_0", "q8", "gguf-q8"],
        description="llama.cpp Q8_0: blocks of 32 int8 weights with an fp16 scale (8.5 bits)",
        linear_bits=8.5,
        embed_bits=8.5,
        lm_head_bits=8.5,
        small_bits=32,
        compute="fp16",
        weight_only=True,
        gguf=True,
    ),
)

KV_DTYPES: dict[str, float] = {"auto": 2.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "q8_0": 1.0625}


def all_schemes() -> tuple[QuantScheme, ...]:
    return SCHEMES


def get_scheme(name: str) -> QuantScheme:
    """A scheme by name or alias; unknown names list the closest ones."""
    key = name.strip().lower()
    for scheme in SCHEMES:
        if key == scheme.name or key in scheme.aliases:
            return scheme
    names = [s.name for s in SCHEMES] + [a for s in SCHEMES for a in s.aliases]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.4)
    raise NotFoundError(
        f"unknown quantization {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
        hint=f"one of: {', '.join(s.name for s in SCHEMES)}",
    )


def kv_bytes(dtype: str) -> float:
    """Bytes per KV element for a KV cache dtype name."""
    key = dtype.strip().lower()
    if key not in KV_DTYPES:
        close = difflib.get_close_matches(key, list(KV_DTYPES), n=3, cutoff=0.3)
        raise NotFoundError(
            f"unknown KV cache dtype {dtype!r}" + (f"; closest: {', '.join(close)}" if close else ""),
            hint=f"one of: {', '.join(KV_DTYPES)}",
        )
    return KV_DTYPES[key]


def native_scheme(model: ModelSpec) -> QuantScheme:
    """The scheme a checkpoint is stored in: its quantization_config, else 16-bit."""
    q = model.quantization
    if q is None:
        return SCHEMES[0]
    method = q.method.lower()
    if method in ("awq", "gptq") or (q.bits == 4 and method == "compressed-tensors"):
        return get_scheme("gptq-int4" if method == "gptq" else "awq-int4")
    for scheme in SCHEMES:
        if method in scheme.hf_methods:
            return scheme
    return get_scheme("int8") if q.bits == 8 else get_scheme("awq-int4") if q.bits == 4 else SCHEMES[0]


def weight_bytes(model: ModelSpec, scheme: QuantScheme) -> float:
    """Bytes of all weights (every GPU together) stored in ``scheme``."""
    embed_bits = scheme.embed_bits or 16.0
    head_bits = scheme.lm_head_bits or 16.0
    small = model.norm_params
    linear = model.layer_linear_params
    return (
        linear * scheme.linear_bits
        + model.embedding_params * embed_bits
        + model.lm_head_params * head_bits
        + small * scheme.small_bits
    ) / 8
