"""GPU memory as the engines compute it, against published logs and file sizes."""

from __future__ import annotations

import re

import pytest

from mlway.plan import Catalog, Deployment, EngineKnobs, get_engine, get_scheme, memory_for
from mlway.plan.gpus import GIB
from mlway.plan.quant import weight_bytes

# vLLM issue 10517: RTX 3090 (23.58 GiB), Llama-3.1-8B-Instruct bf16, gpu_memory_utilization 0.9, block 16.
PUBLISHED_WEIGHTS_GIB = 14.9888
PUBLISHED_20K = {"peak_torch_gib": 17.06, "kv_gib": 3.81, "blocks": 1952, "concurrency": 1.56}
PUBLISHED_29K = {"peak_torch_gib": 17.98, "kv_gib": 2.89, "max_tokens": 23648}


def _rtx3090(catalog: Catalog, max_context: int):  # type: ignore[no-untyped-def]
    return memory_for(catalog, "llama-3.1-8b", "rtx-3090", engine="vllm-v0", max_context=max_context)[1]


def test_rtx3090_at_20000_tokens_matches_vllm_log(catalog: Catalog) -> None:
    mem = _rtx3090(catalog, 20000)
    assert mem.fits
    assert mem.weights / GIB == pytest.approx(PUBLISHED_WEIGHTS_GIB, rel=0.02)
    assert (mem.weights + mem.activation_peak) / GIB == pytest.approx(PUBLISHED_20K["peak_torch_gib"], rel=0.02)
    assert mem.kv_cache / GIB == pytest.approx(PUBLISHED_20K["kv_gib"], rel=0.02)
    assert mem.num_blocks == pytest.approx(PUBLISHED_20K["blocks"], rel=0.02)
    assert mem.max_concurrency == pytest.approx(PUBLISHED_20K["concurrency"], rel=0.02)


def test_rtx3090_refuses_29000_tokens_naming_the_maximum(catalog: Catalog) -> None:
    mem = _rtx3090(catalog, 29000)
    assert not mem.fits
    assert (mem.weights + mem.activation_peak) / GIB == pytest.approx(PUBLISHED_29K["peak_torch_gib"], rel=0.02)
    assert mem.kv_cache / GIB == pytest.approx(PUBLISHED_29K["kv_gib"], rel=0.02)
    assert mem.reason is not None
    assert "29000" in mem.reason
    stated = re.search(r"stored in KV cache \((\d+)\)", mem.reason)
    assert stated is not None
    assert int(stated.group(1)) == pytest.approx(PUBLISHED_29K["max_tokens"], rel=0.02)


def test_the_longest_context_that_fits_is_between_the_two_logs(catalog: Catalog) -> None:
    longest = _rtx3090(catalog, 20000).max_len_that_fits
    assert 20000 < longest < 29000
    assert _rtx3090(catalog, longest).fits
    assert not _rtx3090(catalog, longest + 1).fits


def test_gqa_kv_per_token_of_llama_3_1_8b_is_128_kib(catalog: Catalog) -> None:
    # The calibration file: 2 (K,V) x 32 layers x 8 KV heads x 128 head_dim x 2 B = 128 KiB.
    mem = _rtx3090(catalog, 20000)
    assert mem.kv_per_token == 128 * 1024


def test_fp8_kv_cache_doubles_the_tokens(catalog: Catalog) -> None:
    base = memory_for(catalog, "llama-3.1-8b", "h100-sxm", max_context=8192)[1]
    fp8 = memory_for(catalog, "llama-3.1-8b", "h100-sxm", max_context=8192, knobs=EngineKnobs(kv_cache_dtype="fp8"))[1]
    assert fp8.kv_tokens == pytest.approx(2 * base.kv_tokens, rel=0.001)


def test_tensor_parallel_splits_weights_and_kv(catalog: Catalog) -> None:
    one = memory_for(catalog, "llama-3.3-70b", "h100-sxm", tp=2, quant="fp8", max_context=32768)[1]
    four = memory_for(catalog, "llama-3.3-70b", "h100-sxm", tp=4, quant="fp8", max_context=32768)[1]
    assert four.weights == pytest.approx(one.weights / 2, rel=0.01)
    assert four.kv_per_token == pytest.approx(one.kv_per_token / 2)
    assert four.max_concurrency > 2 * one.max_concurrency


def test_70b_in_16_bits_does_not_fit_one_h100(catalog: Catalog) -> None:
    mem = memory_for(catalog, "llama-3.1-70b", "h100-sxm", max_context=8192)[1]
    assert not mem.fits
    assert mem.reason is not None
    assert "weights" in mem.reason


# XiongjieDai/GPU-Benchmarks-on-LLM-Inference README: GGUF files of Llama 3 (GiB, printed as GB).
@pytest.mark.parametrize(
    ("model", "scheme", "gib"),
    [("llama-3.1-8b", "gguf-q4_k_m", 4.58), ("llama-3.1-70b", "gguf-q4_k_m", 39.59),
     ("llama-3.1-70b", "gguf-q8_0", 69.83), ("llama-3.1-8b", "bf16", 14.96), ("llama-3.1-70b", "bf16", 131.42)],
)  # fmt: skip
def test_weight_bytes_match_published_file_sizes(catalog: Catalog, model: str, scheme: str, gib: float) -> None:
    assert weight_bytes(catalog.model(model), get_scheme(scheme)) / GIB == pytest.approx(gib, rel=0.02)


def test_int4_keeps_embeddings_and_lm_head_in_16_bits(catalog: Catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    awq = weight_bytes(model, get_scheme("awq-int4"))
    head_and_embed = 2 * model.vocab_size * model.hidden_size * 2
    # a quarter of 16-bit for the blocks would be ~3.5 GB; the two 128k-vocabulary matrices add 2.1 GB
    assert awq > head_and_embed
    assert awq / weight_bytes(model, get_scheme("bf16")) == pytest.approx(0.36, abs=0.03)


@pytest.mark.parametrize("engine", ["vllm", "vllm-v0", "sglang", "tensorrt-llm", "llama.cpp"])
def test_every_engine_fits_an_8b_model_on_an_h100(catalog: Catalog, engine: str) -> None:
    quant = "gguf-q8_0" if engine == "llama.cpp" else "bf16"
    dep = Deployment(catalog.model("llama-3.1-8b"), get_scheme(quant), catalog.gpu("h100-sxm"))
    mem = get_engine(engine).memory(dep, 8192)
    assert mem.fits
    assert mem.weights + mem.kv_cache <= mem.total


def test_sliding_window_layers_hold_less_kv(catalog: Catalog) -> None:
    gemma = memory_for(catalog, "gemma-2-9b", "h100-sxm", max_context=8192)[1]
    per_full_sequence = gemma.kv_per_token * 8192
    assert gemma.max_concurrency > gemma.kv_cache / per_full_sequence
