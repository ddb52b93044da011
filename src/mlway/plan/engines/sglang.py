"""SGLang: a static fraction of memory (0.88 at TP1 down to 0.79 past TP8) holds the weights and a
token-granular KV pool; activations and CUDA graphs live in the rest."""

from __future__ import annotations

from mlway.core.units import format_bytes
from mlway.plan.deployment import Deployment
from mlway.plan.engines.base import Engine, max_len_search, model_ref
from mlway.plan.gpus import GIB
from mlway.plan.memory import (
    MemoryBreakdown,
    activation_peak,
    cuda_graph_estimate,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    weights_per_gpu,
)


class SglangEngine(Engine):
    name = "sglang"
    label = "SGLang"

    @staticmethod
    def default_fraction(tp: int) -> float:
        if tp == 1:
            return 0.88
        if tp == 2:
            return 0.87
        if tp <= 4:
            return 0.85
        return 0.81 if tp <= 8 else 0.79

    def memory(self, dep: Deployment, max_model_len: int) -> MemoryBreakdown:
        model, tp, total, kvb = dep.model, dep.tp, dep.total_bytes, dep.kv_element_bytes
        frac = dep.knobs.gpu_memory_utilization or self.default_fraction(tp)
        per_token = kv_bytes_per_token(model, tp, kvb)
        weights = weights_per_gpu(model, dep.scheme, tp)
        chunk = dep.knobs.max_num_batched_tokens or (8192 if total >= 70 * GIB else 2048)
        seqs = dep.knobs.max_num_seqs or 1024
        act = activation_peak(model, tp, chunk, min(seqs, 256))
        non_torch = GIB * (dep.knobs.non_torch_gib if dep.knobs.non_torch_gib is not None else 0.5)
        kv = max(frac * total - weights, 0.0)
        tokens = int(kv // per_token) if per_token else 0
        per_seq = kv_bytes_per_sequence(model, tp, kvb, max_model_len)
        max_len = max_len_search(
            lambda n: kv >= kv_bytes_per_sequence(model, tp, kvb, n), model.max_position_embeddings
        )
        reason = None
        if kv <= 0:
            reason = f"weights {format_bytes(weights)} exceed mem_fraction_static {frac:g} x {format_bytes(total)}"
        elif per_token and per_seq > kv:
            reason = f"context {max_model_len} needs more KV than the pool holds ({tokens} tokens)"
        graphs = cuda_graph_estimate(model)
        notes = []
        if act + graphs + non_torch > (1 - frac) * total:
            notes.append("activations + CUDA graphs may not fit outside mem_fraction_static: lower it")
        return MemoryBreakdown(
            engine=self.name, model=model.name, gpu=dep.gpu.name, tp=tp, quant=dep.scheme.name,
            kv_dtype=dep.kv_dtype, total=total, budget=frac * total, weights=weights, activation_peak=act,
            non_torch=non_torch, cuda_graphs=graphs, kv_cache=kv, kv_per_token=per_token, block_size=1,
            num_blocks=tokens, kv_tokens=tokens, max_model_len=max_model_len,
            max_concurrency=kv / per_seq if per_seq else 0.0, max_num_seqs=seqs, max_num_batched_tokens=chunk,
            fits=reason is None, reason=reason, max_len_that_fits=max_len, notes=notes,
        )  # fmt: skip

    def command(self, dep: Deployment, mem: MemoryBreakdown) -> str:
        parts = [
            f"python -m sglang.launch_server --model-path {model_ref(dep)}",
            f"--tp {dep.tp}",
            f"--context-length {mem.max_model_len}",
            f"--mem-fraction-static {mem.budget / mem.total:.2f}",
            f"--max-running-requests {mem.max_num_seqs}",
            f"--chunked-prefill-size {mem.max_num_batched_tokens}",
        ]
        if dep.scheme.vllm_flag and dep.model.quantization is None:
            parts.append(f"--quantization {dep.scheme.vllm_flag.replace('_marlin', '')}")
        if mem.kv_dtype == "fp8":
            parts.append("--kv-cache-dtype fp8_e4m3")
        return " ".join(parts)
