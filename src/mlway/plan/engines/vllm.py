"""vLLM: KV = gpu_memory_utilization x total - weights - activation peak - non-torch memory.

``vllm`` is the V1 engine (chunked prefill always on; on GPUs of 70 GiB or more, A100 excepted,
the defaults are 8192 batched tokens and 1024 sequences, else 2048 and 256). ``vllm-v0`` is
vLLM up to 0.6, the engine of the RTX 3090 case in vLLM issue 10517: its profiling pass covers
``max(max_model_len, 2048)`` tokens, as there is no chunked prefill up to 32K context.
Weights include the rotary cos/sin cache vLLM keeps (max_position x rotary dim, 16-bit).
"""

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


class VllmEngine(Engine):
    name = "vllm"
    label = "vLLM (V1)"
    default_non_torch_gib = 0.35
    tp_non_torch_gib = 0.25

    def default_seqs(self, dep: Deployment) -> int:
        return 1024 if dep.total_bytes >= 70 * GIB and "a100" not in dep.gpu.name else 256

    def default_batched(self, dep: Deployment, max_model_len: int) -> int:  # noqa: ARG002 - V0 uses it
        return 8192 if dep.total_bytes >= 70 * GIB and "a100" not in dep.gpu.name else 2048

    def non_torch(self, dep: Deployment) -> float:
        if dep.knobs.non_torch_gib is not None:
            return dep.knobs.non_torch_gib * GIB
        return (self.default_non_torch_gib + (self.tp_non_torch_gib if dep.tp > 1 else 0.0)) * GIB

    def weights(self, dep: Deployment) -> float:
        return weights_per_gpu(dep.model, dep.scheme, dep.tp) + dep.model.rope_cache_elements * 2

    def kv_budget(self, dep: Deployment, max_model_len: int) -> float:
        """Bytes left for the KV cache (negative when the rest does not fit)."""
        batched = dep.knobs.max_num_batched_tokens or self.default_batched(dep, max_model_len)
        seqs = dep.knobs.max_num_seqs or self.default_seqs(dep)
        util = dep.knobs.gpu_memory_utilization or 0.9
        act = activation_peak(dep.model, dep.tp, batched, seqs)
        return util * dep.total_bytes - self.weights(dep) - act - self.non_torch(dep)

    def memory(self, dep: Deployment, max_model_len: int) -> MemoryBreakdown:
        model, total, kvb = dep.model, dep.total_bytes, dep.kv_element_bytes
        seqs = dep.knobs.max_num_seqs or self.default_seqs(dep)
        batched = dep.knobs.max_num_batched_tokens or self.default_batched(dep, max_model_len)
        block = dep.knobs.block_size or 16
        util = dep.knobs.gpu_memory_utilization or 0.9
        weights, act, non_torch = self.weights(dep), activation_peak(model, dep.tp, batched, seqs), self.non_torch(dep)
        per_token = kv_bytes_per_token(model, dep.tp, kvb)
        free = util * total - weights - act - non_torch
        kv = max(free, 0.0)
        blocks = int(kv // (block * per_token)) if per_token else 0
        per_seq = kv_bytes_per_sequence(model, dep.tp, kvb, max_model_len)
        if not per_seq:
            concurrency = 0.0
        elif model.sliding_layers:
            concurrency = kv / per_seq
        else:
            concurrency = blocks * block / max_model_len

        def fits(length: int) -> bool:
            room = self.kv_budget(dep, length)
            return room >= kv_bytes_per_sequence(model, dep.tp, kvb, length) if per_token else room > 0

        max_len = max_len_search(fits, model.max_position_embeddings)
        reason = None
        if free <= 0:
            reason = (
                f"no memory left for the KV cache: {util:g} x {format_bytes(total)} = {format_bytes(util * total)}"
                f" < weights {format_bytes(weights)} + activations {format_bytes(act)}"
                f" + non-torch {format_bytes(non_torch)}"
            )
        elif per_token and per_seq > kv:
            reason = (
                f"max seq len ({max_model_len}) is larger than the maximum number of tokens that can be "
                f"stored in KV cache ({blocks * block}); the longest max_model_len that fits is {max_len}"
            )
        graphs = cuda_graph_estimate(model)
        notes = []
        if util * total + graphs > total:
            notes.append(
                f"CUDA graphs (~{format_bytes(graphs)}) may not fit in the {format_bytes(total * (1 - util))} "
                "left outside gpu_memory_utilization: lower it or pass --enforce-eager"
            )
        return MemoryBreakdown(
            engine=self.name, model=model.name, gpu=dep.gpu.name, tp=dep.tp, quant=dep.scheme.name,
            kv_dtype=dep.kv_dtype, total=total, budget=util * total, weights=weights, activation_peak=act,
            non_torch=non_torch, cuda_graphs=graphs, kv_cache=kv, kv_per_token=per_token, block_size=block,
            num_blocks=blocks, kv_tokens=blocks * block, max_model_len=max_model_len, max_concurrency=concurrency,
            max_num_seqs=seqs, max_num_batched_tokens=batched, fits=reason is None, reason=reason,
            max_len_that_fits=max_len, notes=notes,
        )  # fmt: skip

    def command(self, dep: Deployment, mem: MemoryBreakdown) -> str:
        parts = [
            f"vllm serve {model_ref(dep)}",
            f"--tensor-parallel-size {dep.tp}",
            f"--max-model-len {mem.max_model_len}",
            f"--gpu-memory-utilization {mem.budget / mem.total:.2f}",
            f"--max-num-seqs {mem.max_num_seqs}",
            f"--max-num-batched-tokens {mem.max_num_batched_tokens}",
        ]
        if dep.scheme.vllm_flag and dep.model.quantization is None:
            parts.append(f"--quantization {dep.scheme.vllm_flag}")
        if mem.kv_dtype not in ("auto", "fp16", "bf16"):
            parts.append(f"--kv-cache-dtype {mem.kv_dtype}")
        return " ".join(parts)


class VllmV0Engine(VllmEngine):
    name = "vllm-v0"
    label = "vLLM V0 (<= 0.6)"
    chunked_prefill = False

    def default_seqs(self, dep: Deployment) -> int:  # noqa: ARG002 - same signature as V1
        return 256

    def default_batched(self, dep: Deployment, max_model_len: int) -> int:  # noqa: ARG002
        return max(max_model_len, 2048) if max_model_len <= 32768 else 2048
