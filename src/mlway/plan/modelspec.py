"""The architecture of a model: what memory and speed are computed from.

A :class:`ModelSpec` comes from the catalog (``catalog/models.yaml``) or from a Hugging Face
``config.json`` (see :mod:`mlway.plan.hfconfig`). Parameter counts are derived from the shapes,
so a catalog entry states only the architecture and is checked against the published total.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel


class QuantizationConfig(StrictModel):
    """The ``quantization_config`` a checkpoint ships with (already-quantized weights)."""

    method: str = Field(description="quant_method: awq, gptq, fp8, compressed-tensors, modelopt, ...")
    bits: int | None = Field(default=None, ge=1, le=16, description="weight bits, when stated")
    group_size: int | None = Field(default=None, description="weights per scale group; -1 = per channel")
    kv_cache_dtype: str | None = Field(default=None, description="KV dtype the checkpoint asks for")


class ModelSpec(StrictModel):
    """Shapes of a transformer, enough to count parameters, bytes and FLOPs."""

    name: str = Field(description="catalog name, e.g. llama-3.1-8b")
    hf_id: str | None = Field(default=None, description="Hugging Face repository id")
    aliases: list[str] = Field(default_factory=list, description="other names users type")
    kind: Literal["decoder", "encoder"] = Field(default="decoder", description="encoders have no KV cache")
    num_layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    num_heads: int = Field(ge=1, description="query heads")
    num_kv_heads: int = Field(ge=1, description="key/value heads (GQA); = num_heads without GQA")
    head_dim: int = Field(ge=1)
    intermediate_size: int = Field(ge=1, description="MLP width (per expert for MoE)")
    vocab_size: int = Field(ge=1)
    tie_embeddings: bool = Field(default=False, description="lm_head shares the embedding matrix")
    mlp: Literal["gated", "plain"] = Field(default="gated", description="gated = SwiGLU/GeGLU (3 matrices)")
    num_experts: int = Field(default=0, ge=0, description="MoE experts per layer; 0 = dense")
    experts_per_token: int = Field(default=0, ge=0, description="MoE experts each token uses")
    linear_bias: Literal["none", "qkv", "all"] = Field(default="none", description="which linears carry a bias")
    norms_per_layer: int = Field(default=2, ge=0, description="normalisation vectors per layer")
    sliding_window: int | None = Field(default=None, ge=1, description="tokens a sliding-window layer sees")
    sliding_layers: int = Field(default=0, ge=0, description="layers that use the sliding window")
    max_position_embeddings: int = Field(ge=1, description="longest context the model supports")
    position_embeddings: Literal["rope", "learned"] = "rope"
    rope_dim: int | None = Field(default=None, ge=1, description="rotary dims when partial; default head_dim")
    type_vocab_size: int = Field(default=0, ge=0, description="token-type embeddings (BERT-like encoders)")
    dtype: Literal["bfloat16", "float16", "float32"] = Field(default="bfloat16", description="checkpoint dtype")
    quantization: QuantizationConfig | None = Field(default=None, description="pre-quantized checkpoint")
    published_params_b: float | None = Field(default=None, description="published total, billions (a check)")
    source: str | None = Field(default=None, description="where the numbers come from")

    # ---- parameter counts (whole model, all GPUs) -------------------------------------------
    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    @property
    def attention_params(self) -> int:
        """One layer's q, k, v, o projections (and their biases)."""
        weights = 2 * self.hidden_size * self.q_dim + 2 * self.hidden_size * self.kv_dim
        if self.linear_bias == "qkv":
            weights += self.q_dim + 2 * self.kv_dim
        elif self.linear_bias == "all":
            weights += self.q_dim + 2 * self.kv_dim + self.hidden_size
        return weights

    @property
    def expert_params(self) -> int:
        """One MLP (one expert of a MoE layer)."""
        matrices = 3 if self.mlp == "gated" else 2
        weights = matrices * self.hidden_size * self.intermediate_size
        if self.linear_bias == "all":
            weights += (matrices - 1) * self.intermediate_size + self.hidden_size
        return weights

    @property
    def mlp_params(self) -> int:
        """One layer's MLP: all experts plus the router for MoE."""
        if self.is_moe:
            return self.num_experts * self.expert_params + self.hidden_size * self.num_experts
        return self.expert_params

    @property
    def active_mlp_params(self) -> int:
        if self.is_moe:
            return self.experts_per_token * self.expert_params + self.hidden_size * self.num_experts
        return self.expert_params

    @property
    def norm_params(self) -> int:
        return self.num_layers * self.norms_per_layer * self.hidden_size + self.hidden_size

    @property
    def embedding_params(self) -> int:
        params = self.vocab_size * self.hidden_size + self.type_vocab_size * self.hidden_size
        if self.position_embeddings == "learned":
            params += self.max_position_embeddings * self.hidden_size
        return params

    @property
    def lm_head_params(self) -> int:
        if self.kind == "encoder" or self.tie_embeddings:
            return 0
        return self.vocab_size * self.hidden_size

    @property
    def layer_linear_params(self) -> int:
        """Every quantizable matrix in the transformer blocks (attention + MLP/experts)."""
        return self.num_layers * (self.attention_params + self.mlp_params)

    @property
    def total_params(self) -> int:
        return self.layer_linear_params + self.norm_params + self.embedding_params + self.lm_head_params

    @property
    def active_params(self) -> int:
        """Parameters one token multiplies with (MoE: only its experts); excludes the embedding gather."""
        per_layer = self.attention_params + self.active_mlp_params
        head = self.vocab_size * self.hidden_size if self.kind == "decoder" else 0
        return self.num_layers * per_layer + head

    # ---- attention shape -------------------------------------------------------------------
    @property
    def full_layers(self) -> int:
        return self.num_layers - self.sliding_layers

    def kv_heads_per_gpu(self, tp: int) -> float:
        """KV heads each GPU holds: split by TP, replicated when TP exceeds the KV heads."""
        return max(self.num_kv_heads / tp, 1.0)

    def kv_elements_per_token(self, tp: int, context: int | None = None) -> float:
        """K and V elements per token per GPU; with ``context``, sliding layers are capped at the window.

        Without ``context`` every layer counts (the cost of one more token in a full-attention layer).
        """
        per_layer = 2 * self.kv_heads_per_gpu(tp) * self.head_dim
        if self.kind == "encoder":
            return 0.0
        if context is None or not self.sliding_window or self.sliding_layers == 0:
            return self.num_layers * per_layer
        window_share = min(1.0, self.sliding_window / max(context, 1))
        return per_layer * (self.full_layers + self.sliding_layers * window_share)

    @property
    def rope_cache_elements(self) -> int:
        """vLLM keeps a cos/sin table of max_position x rotary_dim in the model dtype."""
        if self.position_embeddings != "rope":
            return 0
        return self.max_position_embeddings * (self.rope_dim or self.head_dim)

    def names(self) -> list[str]:
        return [self.name, *self.aliases, *([self.hf_id] if self.hf_id else [])]
