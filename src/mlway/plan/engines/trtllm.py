"""TensorRT-LLM: KV = kv_cache_free_gpu_memory_fraction (0.9) x the memory left after weights and
activation buffers (``max_num_tokens`` tokens); requests reserve their whole length when admitted
(the GUARANTEED_NO_EVICT scheduler)."""

from __future__ import annotations

from mlway.core.units import format_bytes
from mlway.plan.deployment import Deployment
from mlway.plan.engines.base import Engine, max_len_search, model_ref
from mlway.plan.gpus import GIB
from mlway.plan.memory import (
    MemoryBreakdown,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    mlp_peak_per_token,
    weights_per_gpu,
)


class TrtllmEngine(Engine):
    name = "tensorrt-llm"
    label = "TensorRT-LLM"
    full_kv_reservation = True

    def memory(self, dep: Deployment, max_model_len: int) -> MemoryBreakdown:
        model, tp, total, kvb = dep.model, dep.tp, dep.total_bytes, dep.kv_element_bytes
        frac = dep.knobs.gpu_memory_utilization or 0.9
        per_token = kv_bytes_per_token(model, tp, kvb)
        block = dep.knobs.block_size or 32
        tokens_per_step = dep.knobs.max_num_batched_tokens or 8192
        seqs = dep.knobs.max_num_seqs or 2048
        weights = weights_per_gpu(model, dep.scheme, tp)
        act = tokens_per_step * mlp_peak_per_token(model, tp)
        non_torch = GIB * (dep.knobs.non_torch_gib if dep.knobs.non_torch_gib is not None else 0.5)
        free = total - weights - act - non_torch
        kv = max(frac * free, 0.0)
        blocks = int(kv // (block * per_token)) if per_token else 0
        per_seq = kv_bytes_per_sequence(model, tp, kvb, max_model_len)
        max_len = max_len_search(
            lambda n: kv >= kv_bytes_per_sequence(model, tp, kvb, n), model.max_position_embeddings
        )
        reason = None
        if free <= 0:
            reason = f"weights {format_bytes(weights)} + activations leave no free memory of {format_bytes(total)}"
        elif per_token and per_seq > kv:
            reason = f"max_seq_len {max_model_len} does not fit the KV cache ({blocks * block} tokens)"
        return MemoryBreakdown(
            engine=self.name, model=model.name, gpu=dep.gpu.name, tp=tp, quant=dep.scheme.name,
            kv_dtype=dep.kv_dtype, total=total, budget=weights + act + non_torch + kv, weights=weights,
            activation_peak=act, non_torch=non_torch, cuda_graphs=0.0, kv_cache=kv, kv_per_token=per_token,
            block_size=block, num_blocks=blocks, kv_tokens=blocks * block, max_model_len=max_model_len,
            max_concurrency=kv / per_seq if per_seq else 0.0, max_num_seqs=seqs,
            max_num_batched_tokens=tokens_per_step, fits=reason is None, reason=reason,
            max_len_that_fits=max_len, notes=[],
        )  # fmt: skip

    def command(self, dep: Deployment, mem: MemoryBreakdown) -> str:
        return (
            f"trtllm-serve {model_ref(dep)} --tp_size {dep.tp} --max_seq_len {mem.max_model_len} "
            f"--max_batch_size {mem.max_num_seqs} --max_num_tokens {mem.max_num_batched_tokens} "
            f"--kv_cache_free_gpu_memory_fraction {dep.knobs.gpu_memory_utilization or 0.9:g}"
        )
