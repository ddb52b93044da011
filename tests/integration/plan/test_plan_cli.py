"""`mlway plan` as a user runs it: the real CLI process, its output, files and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"COLUMNS": "200", "NO_COLOR": "1", "MLWAY_PLAN_CATALOG": str(tmp_path / "catalog")}


def mlway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlway", "plan", *args], capture_output=True, text=True, timeout=120, env=env,
        check=False,
    )  # fmt: skip


ISSUE_EXAMPLE = ["--model", "llama-3.1-8b", "--users", "100", "--input-tokens", "2000", "--output-tokens", "300",
                 "--ttft-p95", "1s", "--tpot-p95", "50ms"]  # fmt: skip
RTX3090 = ["memory", "--model", "llama-3.1-8b", "--gpu", "rtx-3090", "--engine", "vllm-v0"]


def test_rtx3090_memory_at_20000_tokens(env: dict[str, str]) -> None:
    out = mlway(env, *RTX3090, "--max-context", "20000")
    assert out.returncode == 0, out.stderr
    blocks = int(re.search(r"KV blocks\s*│\s*([\d,]+)", out.stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    concurrency = float(re.search(r"max concurrency\s*│\s*([\d.]+)x", out.stdout).group(1))  # type: ignore[union-attr]
    assert blocks == pytest.approx(1952, rel=0.02)  # vLLM issue 10517
    assert concurrency == pytest.approx(1.56, rel=0.02)


def test_rtx3090_refuses_29000_tokens_naming_the_maximum(env: dict[str, str]) -> None:
    out = mlway(env, *RTX3090, "--max-context", "29000")
    assert out.returncode == 2
    stated = re.search(r"stored in KV cache \((\d+)\)", " ".join(out.stderr.split()))
    assert stated is not None
    assert int(stated.group(1)) == pytest.approx(23648, rel=0.02)  # vLLM issue 10517
    assert "--max-context" in out.stderr


def test_memory_json_for_a_70b_on_two_h100(env: dict[str, str]) -> None:
    out = mlway(env, "memory", "--model", "llama-3.3-70b", "--gpu", "h100-sxm", "--tp", "2", "--quant", "fp8",
                "--max-context", "32768", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    mem = json.loads(out.stdout)
    assert mem["fits"]
    assert mem["tp"] == 2
    assert mem["max_concurrency"] > 1
    assert mem["weights"] + mem["kv_cache"] < mem["total"]


def test_recommendation_json_is_ranked_by_cost(env: dict[str, str]) -> None:
    out = mlway(env, *ISSUE_EXAMPLE, "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    costs = [o["cost_per_hour"] for o in plan["options"]]
    assert costs
    assert costs == sorted(costs)
    assert plan["rejected"]
    assert {"gpu", "tp", "quant", "kind", "reason"} <= set(plan["rejected"][0])


def test_recommendation_table_shows_options_memory_and_the_bench_command(env: dict[str, str]) -> None:
    out = mlway(env, *ISSUE_EXAMPLE, "--gpus", "l4,l40s,a100-80gb,h100-sxm")
    assert out.returncode == 0, out.stderr
    assert "options meet the SLOs" in out.stdout
    assert "KV blocks" in out.stdout
    assert "vllm serve meta-llama/Llama-3.1-8B-Instruct" in out.stdout
    assert "mlway bench run" in out.stdout
    assert "rejected" in out.stdout


def test_open_loop_with_a_config_json_and_awq(env: dict[str, str], tmp_path: Path) -> None:
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
              "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
              "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072}  # fmt: skip
    (tmp_path / "my-model").mkdir()
    (tmp_path / "my-model" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    out = mlway(env, "--model", str(tmp_path / "my-model" / "config.json"), "--quant", "awq-int4", "--rps", "60",
                "--input-tokens", "512", "--output-tokens", "256", "--ttft-p95", "1s",
                "--gpus", "l4,l40s,a100-80gb,h100-sxm", "--max-context", "8192", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert {o["quant"] for o in plan["options"]} == {"awq-int4"}
    assert all(o["memory"]["max_model_len"] == 8192 for o in plan["options"])


def test_config_json_missing_a_field_names_it(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 4096, "num_attention_heads": 32}))
    out = mlway(env, "--model", str(tmp_path / "config.json"), "--users", "1")
    assert out.returncode == 2
    assert "num_hidden_layers" in out.stderr


@pytest.mark.parametrize(
    ("args", "closest"),
    [(["--model", "llama-3.1-8", "--users", "1"], "llama-3.1-8b"),
     (["--model", "llama-3.1-8b", "--users", "1", "--gpus", "h100-sxn"], "h100-sxm"),
     (["memory", "--model", "mixtral-8x7", "--gpu", "h100-sxm"], "mixtral-8x7b"),
     (["--preset", "llama3_1-8b-interactiv", "--users", "1"], "llama3_1-8b-interactive")],
)  # fmt: skip
def test_unknown_names_list_the_closest(env: dict[str, str], args: list[str], closest: str) -> None:
    out = mlway(env, *args)
    assert out.returncode == 2
    assert closest in out.stderr


def test_impossible_slo_explains_the_binding_constraint(env: dict[str, str]) -> None:
    out = mlway(env, "--model", "llama-3.1-405b", "--users", "10", "--tpot-p95", "2ms", "--gpus", "h100-sxm,l4")
    assert out.returncode == 2
    text = " ".join((out.stdout + out.stderr).split())
    assert "no option meets" in text
    assert "TPOT" in text
    assert "relax" in text


def test_preset_sets_the_mlperf_limits(env: dict[str, str]) -> None:
    out = mlway(env, "--preset", "llama3_1-8b-interactive", "--users", "10", "--gpus", "h100-sxm", "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["model"] == "llama-3.1-8b"
    limits = {(t["metric"], t["percentile"]): t["seconds"] for t in plan["workload"]["slo"]}
    assert limits == {("ttft", "p99"): 0.5, ("tpot", "p99"): 0.03}


def test_html_and_png_charts_are_written(env: dict[str, str], tmp_path: Path) -> None:
    out = mlway(env, *ISSUE_EXAMPLE, "--gpus", "l40s,h100-sxm", "--html", str(tmp_path / "plan.html"),
                "--png", str(tmp_path / "plan.png"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "h100-sxm" in page
    for name in ("plan.png", "plan-memory.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_catalog_lists_gpus_with_dated_prices_and_models(env: dict[str, str]) -> None:
    gpus = json.loads(mlway(env, "catalog", "gpus", "--json").stdout)
    assert {"h100-sxm", "l40s", "l4", "mi300x", "rtx-3090"} <= {g["name"] for g in gpus}
    assert all(g["price"]["date"] and g["price"]["usd_per_hour"] > 0 for g in gpus)
    models = mlway(env, "catalog", "models")
    assert models.returncode == 0
    assert "bge-m3" in models.stdout
    assert "llama-3.1-405b" in models.stdout


def test_calibrate_then_plan_uses_the_profile(env: dict[str, str], tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "vllm-h100"
    run_dir.mkdir(parents=True)

    def dist(v: float) -> dict[str, float]:
        return {"count": 100, "mean": v, "std": 0.0, "min": v, "max": v, "p50": v, "p90": v, "p95": v, "p99": v,
                "p999": v}  # fmt: skip

    points = [
        {"label": f"c{c}", "load": {"mode": "concurrency", "concurrency": c}, "requests": 100, "ok": 100,
         "warmup": 1, "duration_s": 60.0, "request_rate": r / 128, "output_token_rate": r, "total_token_rate": 5 * r,
         "metrics": {"ttft": dist(t), "tpot": dist(p), "input_tokens": dist(512), "output_tokens": dist(128)},
         "records_path": "x"}
        for c, t, p, r in [(1, 0.045, 0.0105, 90.0), (16, 0.08, 0.014, 1100.0), (64, 0.18, 0.021, 2700.0)]
    ]  # fmt: skip
    run = {"schema_version": 1, "name": "vllm-h100", "started_at": "2026-11-24T10:00:00+00:00",
           "config": {"model": "meta-llama/Llama-3.1-8B-Instruct", "input_tokens": "512", "output_tokens": "128"},
           "environment": {}, "points": points}  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")

    fitted = mlway(env, "calibrate", str(tmp_path / "runs"), "--gpu", "h100-sxm", "--engine", "vllm")
    assert fitted.returncode == 0, fitted.stderr
    assert "saved" in fitted.stdout
    plan = json.loads(mlway(env, "--model", "llama-3.1-8b", "--users", "64", "--input-tokens", "512",
                            "--output-tokens", "128", "--gpus", "h100-sxm,l40s", "--json").stdout)  # fmt: skip
    calibrated = {o["gpu"]: o["calibrated"] for o in plan["options"]}
    assert calibrated == {"h100-sxm": True, "l40s": False}
