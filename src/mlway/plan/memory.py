"""GPU memory of one tensor-parallel rank: weights, activation peak, KV cache, overheads.

The pieces every engine shares live here; how an engine turns them into a KV budget (vLLM's
``gpu_memory_utilization * total - weights - activation peak - non-torch``, SGLang's static
fraction, TensorRT-LLM's share of free memory, llama.cpp's fixed context) lives on the engine
(:mod:`mlway.plan.engines`).

Activation peak, as vLLM's profiling run measures it (``torch.cuda.max_memory_allocated`` over a
forward pass of ``max_num_batched_tokens`` tokens), is the larger of:

* the MLP of one layer: its input and the residual (2 x hidden), the gate/up output
  (2 x intermediate / TP), the activation output (intermediate / TP) and the down output
  (hidden), per token, in the activation dtype. For Llama-3.1-8B that is 110,592 bytes per token:
  the RTX 3090 log of vLLM issue 10517 grows by 0.92 GiB from 20,000 to 29,000 tokens
  (109,760 bytes per token).
* the sampler over ``max_num_seqs`` rows of the vocabulary in float32: logits, the sorted copy
  and its int64 indices, probabilities, their cumulative sum, log-probabilities, the exponential
  noise and the quotient, about 41 bytes per logit (vLLM PR 10511 logs 1.26 GiB for 256 x 128,256).
"""

from __future__ import annotations

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.plan.gpus import GIB
from mlway.plan.modelspec import ModelSpec
from mlway.plan.quant import QuantScheme

SAMPLER_BYTES_PER_LOGIT = 41.0
ACT_BYTES = 2.0


def weights_per_gpu(model: ModelSpec, scheme: QuantScheme, tp: int) -> float:
    """Bytes of weights one TP rank holds: matrices split by TP, K/V replicated past the KV heads."""
    h = model.hidden_size
    q_and_o = 2 * h * model.q_dim / tp
    kv = 2 * h * model.head_dim * model.kv_heads_per_gpu(tp)
    per_layer = q_and_o + kv + model.mlp_params / tp
    bias = model.attention_params - 2 * h * model.q_dim - 2 * h * model.kv_dim
    linear = model.num_layers * (per_layer + bias / tp) * scheme.linear_bits
    embed = model.embedding_params / tp * (scheme.embed_bits or 16.0)
    head = model.lm_head_params / tp * (scheme.lm_head_bits or 16.0)
    return (linear + embed + head + model.norm_params * scheme.small_bits) / 8


def kv_bytes_per_token(model: ModelSpec, tp: int, kv_dtype_bytes: float) -> float:
    """KV cache bytes one more token costs one TP rank, across all layers."""
    return model.kv_elements_per_token(tp) * kv_dtype_bytes


def kv_bytes_per_sequence(model: ModelSpec, tp: int, kv_dtype_bytes: float, tokens: int) -> float:
    """KV bytes of one sequence of ``tokens`` (sliding-window layers keep only their window)."""
    return model.kv_elements_per_token(tp, context=tokens) * kv_dtype_bytes * tokens


def mlp_peak_per_token(model: ModelSpec, tp: int) -> float:
    """Activation bytes alive per token at the peak of one layer's forward pass."""
    h = model.hidden_size
    inter = model.intermediate_size / tp
    fan = model.experts_per_token if model.is_moe else 1
    gate_up = (2 if model.mlp == "gated" else 1) * inter
    mlp = 3 * h + fan * (gate_up + inter) + (fan - 1) * h
    attention = 2 * h + (2 * model.q_dim + 2 * model.kv_dim) / tp
    return max(mlp, attention) * ACT_BYTES


def activation_peak(model: ModelSpec, tp: int, tokens: int, max_num_seqs: int) -> float:
    """Peak activation bytes of a profiling forward pass over ``tokens`` tokens."""
    forward = tokens * mlp_peak_per_token(model, tp)
    if model.kind == "encoder":
        return forward
    sampler = max_num_seqs * model.vocab_size * SAMPLER_BYTES_PER_LOGIT
    return max(forward, sampler)


def cuda_graph_estimate(model: ModelSpec) -> float:
    """A rough size of captured CUDA graphs (vLLM logs 0.3-1 GiB for 7B-70B models)."""
    return 0.25 * GIB + model.num_layers * 8 * 1024**2


class MemoryBreakdown(StrictModel):
    """Memory of one GPU (one TP rank) for one engine configuration. Sizes in bytes."""

    engine: str
    model: str
    gpu: str
    tp: int
    quant: str
    kv_dtype: str
    total: float = Field(description="memory the driver reports")
    budget: float = Field(description="what the engine lets itself use (e.g. utilization x total)")
    weights: float
    activation_peak: float
    non_torch: float = Field(description="CUDA context, NCCL and other memory outside torch's allocator")
    cuda_graphs: float = Field(description="estimate; outside the budget in vLLM")
    kv_cache: float = Field(description="the KV cache the engine allocates")
    kv_per_token: float = Field(description="KV bytes per token, all layers, this GPU")
    block_size: int
    num_blocks: int
    kv_tokens: int = Field(description="tokens the KV cache holds (blocks x block size)")
    max_model_len: int
    max_concurrency: float = Field(description="sequences of max_model_len tokens that fit at once")
    max_num_seqs: int
    max_num_batched_tokens: int
    fits: bool
    reason: str | None = Field(default=None, description="why the engine would refuse to start")
    max_len_that_fits: int = Field(description="the longest max_model_len this configuration accepts")
    notes: list[str] = Field(default_factory=list)

    @property
    def free_after_budget(self) -> float:
        return self.total - self.budget

    def gib(self, value: float) -> float:
        return value / GIB
