"""Quantization schemes and engine compatibility."""

from __future__ import annotations

import pytest

from mlway.core.errors import NotFoundError
from mlway.plan import Catalog, Deployment, get_engine, get_scheme
from mlway.plan.quant import kv_bytes
from mlway.plan.search import unsupported


def test_unknown_scheme_lists_the_closest(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError) as err:
        get_scheme("awq-int5")
    assert "awq-int4" in str(err.value)


def test_unknown_kv_dtype_lists_the_closest() -> None:
    with pytest.raises(NotFoundError) as err:
        kv_bytes("fp9")
    assert "fp8" in str(err.value)


def test_unknown_engine_lists_the_closest() -> None:
    with pytest.raises(NotFoundError) as err:
        get_engine("vlm")
    assert "vllm" in str(err.value)


def test_fp8_needs_at_least_ampere(catalog: Catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    vllm = get_engine("vllm")
    assert unsupported(Deployment(model, get_scheme("fp8"), catalog.gpu("t4")), vllm) is not None
    assert unsupported(Deployment(model, get_scheme("fp8"), catalog.gpu("a100-80gb")), vllm) is None


def test_tp_must_divide_the_heads(catalog: Catalog) -> None:
    qwen = catalog.model("qwen2.5-7b")  # 28 query heads, 4 KV heads
    reason = unsupported(Deployment(qwen, get_scheme("bf16"), catalog.gpu("h100-sxm"), tp=8), get_engine("vllm"))
    assert reason is not None
    assert "28 attention heads" in reason
