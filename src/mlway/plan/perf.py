"""Roofline timing of one engine step on one tensor-parallel group.

A step processes ``decode`` tokens (one per running sequence) and ``prefill`` tokens (prompt
chunks). Its time is the sum, over the kinds of work, of each kind's roofline of
``FLOPs / (peak x compute efficiency)`` and ``bytes / (bandwidth x memory efficiency)``. The
roofline's corner is rounded (the p-norm of the two times, p = ``roofline_p``) because a matrix
multiply near the ridge point is neither at full bandwidth nor at full FLOP/s:

* the transformer matrices: 2 FLOPs per active weight per token; the weights are read once per
  step (MoE: only the experts the step's tokens touch, E x (1 - (1 - k/E)^tokens));
* the lm_head, for the tokens that are sampled only, in 16 bits;
* attention: decode reads each sequence's KV cache (sliding layers: their window) and does
  4 FLOPs per query head dim per cached token; prefill is compute-bound over the causal triangle;
* tensor parallelism: two all-reduces of the step's hidden states per layer, each
  ``latency + 2 (TP - 1) / TP x bytes / (link bandwidth x efficiency)``;
* fixed costs: per step (scheduler, sampling) and per layer (kernel launches, norms).

Batch effects follow: at batch 1 the weights dominate (memory-bound); as the batch grows the
matrices turn compute-bound and the KV reads grow with batch x context.
"""

from __future__ import annotations

from mlway.plan.deployment import Deployment
from mlway.plan.engines import Engine
from mlway.plan.factors import Factors
from mlway.plan.memory import weights_per_gpu


class StepModel:
    """Step timing of one deployment on one engine with one set of efficiency factors."""

    def __init__(self, dep: Deployment, engine: Engine, factors: Factors) -> None:
        self.dep, self.engine, self.factors = dep, engine, factors
        self.model, self.scheme, self.gpu, self.tp = dep.model, dep.scheme, dep.gpu, dep.tp
        self.kv_dtype_bytes = dep.kv_element_bytes
        m, f, scheme, gpu, tp = dep.model, factors, dep.scheme, dep.gpu, dep.tp
        compute = scheme.compute if (scheme.compute != "fp8" or gpu.supports_fp8) else "fp16"
        peak = gpu.peak_flops(compute, fp16_accumulate=engine.fp16_accumulate)
        if compute == "fp16":
            weight_only = scheme.weight_only or scheme.compute != "fp16"
            self.linear_rate = peak * f.compute_eff * (f.weight_only_eff if weight_only else 1.0)
        else:
            self.linear_rate = peak * f.low_precision_eff
        self.flops16 = gpu.peak_flops("fp16", fp16_accumulate=engine.fp16_accumulate) * f.compute_eff
        self.bandwidth = gpu.bandwidth_bytes * f.memory_eff
        self.linear_flops_per_token = 2 * m.num_layers * (m.attention_params + m.active_mlp_params) / tp
        self.head_params = m.vocab_size * m.hidden_size / tp if m.kind == "decoder" else 0.0
        self.head_bytes = self.head_params * (scheme.lm_head_bits or 16.0) / 8
        embed = m.embedding_params / tp * (scheme.embed_bits or 16.0) / 8
        self.body_bytes = weights_per_gpu(m, scheme, tp) - embed - self.head_bytes
        self.expert_bytes = m.num_layers * m.expert_params / tp * scheme.linear_bits / 8 if m.is_moe else 0.0
        self.attn_flops = 4 * m.num_layers * m.q_dim / tp
        self.kv_full = m.kv_elements_per_token(tp)
        self.fixed = f.step_overhead_s + m.num_layers * f.layer_overhead_s
        self._p = f.roofline_p

    def _roof(self, compute: float, memory: float) -> float:
        """The rounded roofline: the p-norm of the two times (p = infinity is the sharp max)."""
        p = self._p
        return float((compute**p + memory**p) ** (1 / p))

    def _matrix_time(self, tokens: float, sampled: float) -> float:
        m = self.model
        read = self.body_bytes
        if m.is_moe:
            touched = m.num_experts * (1 - (1 - m.experts_per_token / m.num_experts) ** tokens)
            read -= self.expert_bytes * (m.num_experts - touched)
        body = self._roof(self.linear_flops_per_token * tokens / self.linear_rate, read / self.bandwidth)
        if sampled <= 0 or not self.head_params:
            return body
        return body + self._roof(2 * self.head_params * sampled / self.flops16, self.head_bytes / self.bandwidth)

    def _kv_elements(self, context: float) -> float:
        m = self.model
        if m.sliding_window and m.sliding_layers and context > m.sliding_window:
            return m.kv_elements_per_token(self.tp, int(context))
        return self.kv_full

    def _attention_time(
        self, decode: float, context: float, prefill: float, prefill_context: float, prefill_seqs: float
    ) -> float:
        span = prefill_context + prefill / (2 * max(prefill_seqs, 1.0))
        span *= self._kv_elements(span) / self.kv_full if self.kv_full else 1.0
        prefill_t = self.attn_flops * prefill * span / self.flops16 if prefill else 0.0
        if self.model.kind == "encoder" or not decode:
            return prefill_t
        kv_read = decode * context * self._kv_elements(context) * self.kv_dtype_bytes
        return prefill_t + self._roof(self.attn_flops * decode * context / self.flops16, kv_read / self.bandwidth)

    def _comm_time(self, tokens: float) -> float:
        if self.tp == 1 or tokens <= 0:
            return 0.0
        link = self.gpu.interconnect
        size = tokens * self.model.hidden_size * 2.0
        one = link.latency_us * 1e-6 + 2 * (self.tp - 1) / self.tp * size / (
            link.bandwidth_gbs * 1e9 * self.factors.comm_eff
        )
        return 2 * self.model.num_layers * one

    def step_time(
        self,
        decode: float,
        context: float,
        *,
        prefill: float = 0.0,
        prefill_context: float = 0.0,
        prefill_seqs: float = 1.0,
        finishing_prefills: float = 0.0,
    ) -> float:
        """Seconds for one step: ``decode`` sequences at ``context`` cached tokens each, plus
        ``prefill`` prompt tokens of ``prefill_seqs`` sequences whose chunks start after
        ``prefill_context`` cached tokens; ``finishing_prefills`` of them sample a first token."""
        tokens = decode + prefill
        if tokens <= 0:
            return 0.0
        return (
            self._matrix_time(tokens, decode + finishing_prefills)
            + self._attention_time(decode, context, prefill, prefill_context, prefill_seqs)
            + self._comm_time(tokens)
            + self.fixed
        )

    def prefill_time(
        self, prompt: float, chunk: int | None = None, *, batch: int = 1, decoding: float = 0.0, context: float = 0.0
    ) -> float:
        """Time to prefill ``batch`` prompts of ``prompt`` tokens in chunks of ``chunk`` tokens, while
        ``decoding`` other sequences (at ``context`` cached tokens) share each step."""
        total = prompt * batch
        size = max(float(chunk) - decoding, 1.0) if chunk and self.engine.chunked_prefill else total
        elapsed, done = 0.0, 0.0
        while done < total - 1e-9:
            part = min(size, total - done)
            finishing = batch if done + part >= total - 1e-9 else 0
            elapsed += self.step_time(
                decoding, context, prefill=part, prefill_context=done / batch, prefill_seqs=batch,
                finishing_prefills=finishing,
            )  # fmt: skip
            done += part
        return elapsed

    def decode_time(self, batch: float, context: float) -> float:
        """One decode step of ``batch`` sequences with ``context`` cached tokens each (the TPOT at rest)."""
        return self.step_time(batch, context)


def static_batch(sm: StepModel, batch: int, prompt: int, output: int) -> tuple[float, float]:
    """First-token latency and total time of a static batch (all prompts prefilled together, then
    ``output - 1`` decode steps at the growing context): how offline batch jobs and the older
    TensorRT-LLM / FasterTransformer benchmarks run."""
    first = sm.prefill_time(prompt, batch=batch)
    decode = sum(sm.decode_time(batch, prompt + i) for i in range(1, output))
    return first, first + decode
