"""Every measurement of shared/calibration/llm_measurements.md, predicted with ONE set of factors.

Goal of issue 3: throughput and latency within 20% (median absolute error); memory within 2%
(tests/unit/plan/test_memory.py). benchmarks/plan/accuracy.py prints each row's error.
"""

from __future__ import annotations

import statistics

import pytest

from mlway.plan import DEFAULT_FACTORS, Catalog, Deployment, EngineKnobs, ModelSpec, get_engine, get_scheme
from mlway.plan.perf import StepModel, static_batch
from mlway.plan.queueing import Replica, Request
from mlway.plan.search import batch_limit

# kipply's FasterTransformer 13B: 40 layers, d_model 5120, 40 heads (GPT-style, 4x MLP, tied embeddings).
FT_13B = ModelSpec(name="ft-13b", num_layers=40, hidden_size=5120, num_heads=40, num_kv_heads=40, head_dim=128,
                   intermediate_size=20480, vocab_size=50304, tie_embeddings=True, mlp="plain",
                   max_position_embeddings=2048, position_embeddings="learned")  # fmt: skip


def _step(catalog: Catalog, model: ModelSpec, quant: str, gpu: str, tp: int = 1, kv: str = "auto") -> StepModel:
    dep = Deployment(model, get_scheme(quant), catalog.gpu(gpu), tp, EngineKnobs(kv_cache_dtype=kv))
    return StepModel(dep, get_engine("tensorrt-llm"), DEFAULT_FACTORS)


def _max_throughput(catalog: Catalog, prompt: int, output: int) -> float:
    """TensorRT-LLM trtllm-bench: infinite request rate, Llama 3.1 8B FP8 (ModelOpt, FP8 KV), 1x H100."""
    model = catalog.model("llama-3.1-8b")
    dep = Deployment(model, get_scheme("fp8"), catalog.gpu("h100-sxm"), 1, EngineKnobs(kv_cache_dtype="fp8"))
    engine = get_engine("tensorrt-llm")
    mem = engine.memory(dep, prompt + output)
    req = Request(
        prompt, output, dict.fromkeys(("p50", "p95", "p99"), prompt), dict.fromkeys(("p50", "p95", "p99"), output)
    )
    replica = Replica(StepModel(dep, engine, DEFAULT_FACTORS), req, batch_limit(dep, engine, mem, req),
                      mem.max_num_batched_tokens)  # fmt: skip
    return replica.full.output_rate


def _rows(catalog: Catalog) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    for (prompt, output), published in {(128, 128): 28312, (1000, 1000): 15220, (2048, 128): 3450}.items():
        rows.append((f"trtllm 8B fp8 {prompt}/{output} tok/s", _max_throughput(catalog, prompt, output), published))
    for tp, (prefill, decode, total) in {1: (63.17e-3, 22.0e-3, 283.6e-3), 2: (45.45e-3, 13.5e-3, 180.86e-3)}.items():
        step = _step(catalog, FT_13B, "bf16", "a100-40gb", tp)
        first, _ = static_batch(step, 1, 512, 1)
        per_token = step.decode_time(1, 512)
        rows += [(f"FT 13B TP{tp} prefill", first, prefill), (f"FT 13B TP{tp} decode", per_token, decode),
                 (f"FT 13B TP{tp} total", first + 10 * per_token, total)]  # fmt: skip
    gptj = catalog.model("gpt-j-6b")
    # TensorRT-LLM H100vsA100 blog: batch -> (output tok/s, first-token latency); H100 FP8 (FP8 KV), A100 FP16
    blog = (
        ("h100-sxm", "fp8", "fp8", {64: (10907, 102e-3), 1: (185, 7.1e-3)}),
        ("a100-80gb", "bf16", "auto", {64: (3679, 481e-3), 1: (111, 12.5e-3)}),
    )
    for gpu, quant, kv, published in blog:
        step = _step(catalog, gptj, quant, gpu, kv=kv)
        for batch, (tokens_per_s, first_token) in published.items():
            first, total = static_batch(step, batch, 128, 128)
            rows += [(f"GPT-J {gpu} b{batch} tok/s", batch * 128 / total, tokens_per_s),
                     (f"GPT-J {gpu} b{batch} first token", first, first_token)]  # fmt: skip
    return rows


def test_median_error_of_the_calibration_rows_is_within_20_percent(catalog: Catalog) -> None:
    errors = [abs(predicted / published - 1) for _, predicted, published in _rows(catalog)]
    assert len(errors) == 17
    assert statistics.median(errors) <= 0.20


@pytest.mark.parametrize("prompt_output", [(128, 128), (1000, 1000), (2048, 128)])
def test_each_max_throughput_row_is_within_20_percent(catalog: Catalog, prompt_output: tuple[int, int]) -> None:
    published = {(128, 128): 28312, (1000, 1000): 15220, (2048, 128): 3450}[prompt_output]
    assert _max_throughput(catalog, *prompt_output) == pytest.approx(published, rel=0.20)


def test_tensor_parallel_cuts_decode_time_but_not_in_half(catalog: Catalog) -> None:
    one = _step(catalog, FT_13B, "bf16", "a100-40gb", 1).decode_time(1, 512)
    two = _step(catalog, FT_13B, "bf16", "a100-40gb", 2).decode_time(1, 512)
    assert one / 2 < two < one
