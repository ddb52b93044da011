"""The recommendation: cheapest options that meet the SLO, rejected ones with their reason."""

from __future__ import annotations

import pytest

from mlway.plan import Catalog, PlanRequest, TokenDist, Workload, parse_slo, recommend


def _workload(slo: str = "ttft_p95=1s,tpot_p95=50ms", **load: float) -> Workload:
    return Workload(input_tokens=TokenDist.parse("2000"), output_tokens=TokenDist.parse("300"), slo=parse_slo(slo),
                    **load)  # type: ignore[arg-type]  # fmt: skip


def test_issue_example_ranks_options_by_cost_and_each_meets_the_slo(catalog: Catalog) -> None:
    plan = recommend(catalog.model("llama-3.1-8b"), PlanRequest(workload=_workload(users=100)), catalog)
    assert plan.options
    costs = [o.cost_per_hour for o in plan.options]
    assert costs == sorted(costs)
    for option in plan.options:
        assert option.ttft["p95"].mid <= 1.0
        assert option.tpot["p95"].mid <= 0.05
        assert option.ttft["p95"].low < option.ttft["p95"].mid < option.ttft["p95"].high
        assert option.memory.fits
        assert option.engine_command.startswith("vllm serve meta-llama/Llama-3.1-8B-Instruct")
        assert "mlway bench run" in option.bench_command


def test_rejected_options_keep_their_binding_reason(catalog: Catalog) -> None:
    plan = recommend(catalog.model("llama-3.1-8b"), PlanRequest(workload=_workload(users=100)), catalog)
    by_key = {(r.gpu, r.tp, r.quant): r for r in plan.rejected}
    assert by_key[("t4", 1, "bf16")].kind == "does not fit"
    assert by_key[("l4", 1, "bf16")].kind == "TPOT"  # 16 GB of weights over 300 GB/s: > 50 ms per token


def test_more_load_needs_more_replicas(catalog: Catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    light = recommend(model, PlanRequest(workload=_workload(rps=1), gpus=["l40s"], quants=["bf16"], tps=[1]), catalog)
    heavy = recommend(model, PlanRequest(workload=_workload(rps=30), gpus=["l40s"], quants=["bf16"], tps=[1]), catalog)
    assert heavy.options[0].replicas > light.options[0].replicas


def test_a_70b_model_needs_several_gpus_or_fewer_bytes(catalog: Catalog) -> None:
    plan = recommend(catalog.model("llama-3.3-70b"), PlanRequest(workload=_workload(users=20), gpus=["h100-sxm"]),
                     catalog)  # fmt: skip
    assert all(o.tp >= 2 or o.quant != "bf16" for o in plan.options)
    assert any(r.kind == "does not fit" and r.tp == 1 and r.quant == "bf16" for r in plan.rejected)


def test_an_impossible_tpot_names_the_binding_constraint_and_what_would_do(catalog: Catalog) -> None:
    request = PlanRequest(workload=_workload("ttft_p95=1s,tpot_p95=1ms", users=10), gpus=["l4", "h100-sxm"])
    plan = recommend(catalog.model("llama-3.1-8b"), request, catalog)
    assert not plan.options
    assert plan.diagnosis is not None
    assert "TPOT" in plan.diagnosis
    assert "relax" in plan.diagnosis


def test_a_context_too_long_for_every_gpu_suggests_a_shorter_one(catalog: Catalog) -> None:
    workload = Workload(users=1, input_tokens=TokenDist.parse("1000"), output_tokens=TokenDist.parse("100"),
                        max_context=131072)  # fmt: skip
    request = PlanRequest(workload=workload, gpus=["l4"], quants=["bf16"], tps=[1])
    plan = recommend(catalog.model("llama-3.1-8b"), request, catalog)
    assert not plan.options
    assert plan.diagnosis is not None
    assert "shorter context" in plan.diagnosis


def test_a_gpu_budget_rejects_for_cost(catalog: Catalog) -> None:
    request = PlanRequest(workload=_workload(rps=50), gpus=["l4"], quants=["awq-int4"], tps=[1], max_gpus=2)
    plan = recommend(catalog.model("llama-3.1-8b"), request, catalog)
    assert not plan.options
    assert {r.kind for r in plan.rejected} == {"cost"}
    assert plan.diagnosis is not None
    assert "--max-gpus" in plan.diagnosis


def test_gguf_is_offered_on_llama_cpp_only(catalog: Catalog) -> None:
    request = PlanRequest(workload=_workload(users=1), gpus=["rtx-4090"], quants=["gguf-q4_k_m"], tps=[1])
    on_vllm = recommend(catalog.model("llama-3.1-8b"), request, catalog)
    assert on_vllm.rejected[0].kind == "unsupported"
    on_llamacpp = recommend(catalog.model("llama-3.1-8b"), request.model_copy(update={"engine": "llama.cpp"}), catalog)
    assert on_llamacpp.options


def test_the_encoder_is_planned_as_prefill_only(catalog: Catalog) -> None:
    workload = Workload(rps=200, input_tokens=TokenDist.parse("512"), output_tokens=TokenDist.parse("0"),
                        slo=parse_slo("e2e_p95=200ms"))  # fmt: skip
    plan = recommend(catalog.model("bge-m3"), PlanRequest(workload=workload, gpus=["l4", "t4"]), catalog)
    assert plan.options
    assert all(o.tpot["p95"].mid == 0 for o in plan.options)


@pytest.mark.parametrize("preset", ["llama3_1-8b", "llama3_1-8b-interactive"])
def test_mlperf_presets_give_p99_targets(catalog: Catalog, preset: str) -> None:
    targets = catalog.preset(preset).targets()
    assert {t.percentile for t in targets} == {"p99"}
    assert {t.metric for t in targets} == {"ttft", "tpot"}
