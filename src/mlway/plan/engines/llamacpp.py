"""llama.cpp server: the whole context (slots x max_model_len tokens) is allocated up front in f16
by default, beside the weights, a compute buffer for one 512-token micro-batch and the CUDA context."""

from __future__ import annotations

from mlway.core.units import format_bytes
from mlway.plan.deployment import Deployment
from mlway.plan.engines.base import Engine
from mlway.plan.gpus import GIB
from mlway.plan.memory import MemoryBreakdown, kv_bytes_per_token, mlp_peak_per_token, weights_per_gpu
from mlway.plan.quant import kv_bytes

UBATCH = 512


class LlamaCppEngine(Engine):
    name = "llama.cpp"
    label = "llama.cpp server"
    fp16_accumulate = True
    chunked_prefill = False
    full_kv_reservation = True
    fixed_slots = True

    def supports(self, dep: Deployment) -> str | None:
        if dep.scheme.gguf or dep.scheme.name == "bf16":
            return None
        return f"llama.cpp runs GGUF files, not {dep.scheme.name}: use gguf-q4_k_m or gguf-q8_0"

    def memory(self, dep: Deployment, max_model_len: int) -> MemoryBreakdown:
        model, tp, total = dep.model, dep.tp, dep.total_bytes
        kv_dtype = "fp16" if dep.kv_dtype == "auto" else dep.kv_dtype
        per_token = kv_bytes_per_token(model, tp, kv_bytes(kv_dtype))
        slots = dep.knobs.max_num_seqs or 1
        weights = weights_per_gpu(model, dep.scheme, tp)
        compute = UBATCH * (model.vocab_size * 4 + mlp_peak_per_token(model, tp))
        non_torch = GIB * (dep.knobs.non_torch_gib if dep.knobs.non_torch_gib is not None else 0.3)
        kv = slots * max_model_len * per_token
        room = total - weights - compute - non_torch
        max_len = int(room // (slots * per_token)) if per_token else model.max_position_embeddings
        max_len = max(min(max_len, model.max_position_embeddings), 0)
        reason = None
        if weights + compute + non_torch + kv > total:
            reason = (
                f"weights {format_bytes(weights)} + KV for {slots} x {max_model_len} tokens "
                f"{format_bytes(kv)} + compute buffers exceed {format_bytes(total)}"
            )
        return MemoryBreakdown(
            engine=self.name, model=model.name, gpu=dep.gpu.name, tp=tp, quant=dep.scheme.name, kv_dtype=kv_dtype,
            total=total, budget=total, weights=weights, activation_peak=compute, non_torch=non_torch,
            cuda_graphs=0.0, kv_cache=kv, kv_per_token=per_token, block_size=1,
            num_blocks=slots * max_model_len, kv_tokens=slots * max_model_len, max_model_len=max_model_len,
            max_concurrency=float(slots) if reason is None else 0.0, max_num_seqs=slots,
            max_num_batched_tokens=UBATCH, fits=reason is None, reason=reason, max_len_that_fits=max_len, notes=[],
        )  # fmt: skip

    def command(self, dep: Deployment, mem: MemoryBreakdown) -> str:
        split = f" --split-mode row --tensor-split {','.join(['1'] * dep.tp)}" if dep.tp > 1 else ""
        cache = f" --cache-type-k {mem.kv_dtype} --cache-type-v {mem.kv_dtype}" if mem.kv_dtype != "fp16" else ""
        return (
            f"llama-server -m {dep.model.name}-{dep.scheme.name}.gguf -ngl 999 "
            f"-c {mem.max_model_len * mem.max_num_seqs} --parallel {mem.max_num_seqs}{split}{cache}"
        )
