"""Calibration closes the loop: bench results -> fitted factors -> the next plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlway.core.errors import InputError, NotFoundError
from mlway.plan import (
    DEFAULT_FACTORS,
    Catalog,
    Deployment,
    EngineKnobs,
    PlanRequest,
    TokenDist,
    Workload,
    calibrate,
    get_engine,
    get_scheme,
    load_profile,
    recommend,
)
from mlway.plan.benchfiles import Observation
from mlway.plan.calibrate import Setup, predict

WriteRun = Callable[..., Path]
# A user's H100 + vLLM sweep of Llama-3.1-8B, 512 in / 128 out: (concurrency, TTFT p50, TPOT p50, output tok/s).
USER_SWEEP = [
    (1, 0.045, 0.0105, 90.0),
    (8, 0.060, 0.0120, 620.0),
    (32, 0.110, 0.0160, 1800.0),
    (64, 0.180, 0.0210, 2700.0),
]


def _plan() -> Workload:
    return Workload(users=64, input_tokens=TokenDist.parse("512"), output_tokens=TokenDist.parse("128"))


def test_the_next_plan_uses_the_profile_and_predicts_the_bench(
    catalog: Catalog, bench_run: WriteRun, tmp_path: Path
) -> None:
    bench_run(tmp_path / "runs" / "vllm-h100", "meta-llama/Llama-3.1-8B-Instruct", 512, 128, USER_SWEEP)
    request = PlanRequest(workload=_plan(), gpus=["h100-sxm"], quants=["bf16"], tps=[1])
    before = recommend(catalog.model("llama-3.1-8b"), request, catalog).options[0]
    assert not before.calibrated

    result = calibrate([tmp_path / "runs"], gpu="h100-sxm", engine="vllm", catalog=catalog)
    assert result.path.is_file()
    assert result.profile.points == 4
    assert result.profile.median_abs_error_after < result.profile.median_abs_error_before

    after = recommend(catalog.model("llama-3.1-8b"), request, catalog).options[0]
    assert after.calibrated
    observed_tpot_at_64 = USER_SWEEP[-1][2]
    assert abs(after.tpot["p50"].mid / observed_tpot_at_64 - 1) < abs(before.tpot["p50"].mid / observed_tpot_at_64 - 1)
    assert abs(after.tpot["p50"].mid / observed_tpot_at_64 - 1) < 0.25


def test_the_profile_is_per_gpu_and_engine(catalog: Catalog, bench_run: WriteRun, tmp_path: Path) -> None:
    bench_run(tmp_path / "r", "llama-3.1-8b", 512, 128, USER_SWEEP)
    calibrate([tmp_path / "r" / "run.json"], gpu="h100-sxm", engine="vllm", catalog=catalog)
    assert load_profile(catalog.directory, "h100-sxm", "vllm") is not None
    assert load_profile(catalog.directory, "h100-sxm", "sglang") is None
    assert load_profile(catalog.directory, "a100-80gb", "vllm") is None


def test_fit_recovers_the_factors_that_produced_the_measurements(
    catalog: Catalog, bench_run: WriteRun, tmp_path: Path
) -> None:
    # measurements of an engine that reaches 55% of bandwidth and 40% of FLOP/s, with 25 ms off the GPU
    truth = DEFAULT_FACTORS.model_copy(update={"memory_eff": 0.55, "compute_eff": 0.40, "request_overhead_s": 0.025})
    setup = Setup(Deployment(catalog.model("llama-3.1-8b"), get_scheme("bf16"), catalog.gpu("a100-80gb"), 1,
                             EngineKnobs()), get_engine("vllm"))  # fmt: skip
    points = []
    for users in (1, 4, 16, 64, 128):
        obs = Observation(source="x", label=f"c{users}", mode="concurrency", load=users, duration=60,
                          prompt_tokens=1024, output_tokens=256, ttft_p50=None, tpot_p50=None,
                          output_token_rate=0)  # fmt: skip
        made = predict(setup, truth, obs)
        points.append((users, made["ttft"], made["tpot"], made["rate"]))
    bench_run(tmp_path / "synthetic", "llama-3.1-8b", 1024, 256, points)

    fitted = calibrate([tmp_path / "synthetic"], gpu="a100-80gb", engine="vllm", catalog=catalog).profile
    assert fitted.factors.memory_eff == pytest.approx(0.55, rel=0.1)
    assert fitted.factors.compute_eff == pytest.approx(0.40, rel=0.25)
    assert fitted.median_abs_error_after < 0.03


def test_runs_without_a_model_name_ask_for_one(catalog: Catalog, bench_run: WriteRun, tmp_path: Path) -> None:
    bench_run(tmp_path / "a", "served-model-a", 512, 128, USER_SWEEP)
    bench_run(tmp_path / "b", "served-model-b", 512, 128, USER_SWEEP)
    with pytest.raises(InputError) as err:
        calibrate([tmp_path], gpu="h100-sxm", engine="vllm", catalog=catalog)
    assert "--model" in str(err.value)


def test_a_directory_without_runs_says_so(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as err:
        calibrate([tmp_path], gpu="h100-sxm", engine="vllm", catalog=catalog)
    assert "run.json" in str(err.value)


def test_a_broken_run_json_is_named(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError) as err:
        calibrate([tmp_path / "run.json"], gpu="h100-sxm", engine="vllm", catalog=catalog)
    assert "run.json" in str(err.value)
