"""Accuracy and speed of `mlway plan`: predicted vs published, side by side with the peers' formulas.

Run: ``python benchmarks/plan/accuracy.py`` (prints the tables and writes benchmarks/plan/RESULTS.md).

* mlway: the package's DEFAULT_FACTORS, ONE set for every row (no per-row fitting).
* LLM-Viewer-like pure roofline: 100% of peak FLOP/s and bandwidth, no overheads, sharp corner.
* llm-analysis defaults: 70% of peak FLOP/s, 90% of bandwidth, no overheads, sharp corner.
* gpu_poor's KV cache: 2 x layers x hidden x 2 bytes per token (no grouped-query attention).

The peers' formulas run inside mlway's harness (same model shapes, same batching/KV-capacity logic)
so the comparison isolates the per-step formula, not the bookkeeping around it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cases import CALIBRATION, HELD_OUT, HELD_OUT_MEMORY, MEMORY, Case, MemCase

from mlway.plan import (
    DEFAULT_FACTORS,
    Catalog,
    Deployment,
    EngineKnobs,
    Factors,
    PlanRequest,
    TokenDist,
    Workload,
    get_engine,
    get_scheme,
    load_catalog,
    parse_slo,
    recommend,
)
from mlway.plan.gpus import GIB, GpuSpec
from mlway.plan.perf import StepModel, static_batch
from mlway.plan.quant import weight_bytes
from mlway.plan.queueing import Replica, Request
from mlway.plan.search import batch_limit

HERE = Path(__file__).resolve().parent
ROOFLINE = Factors(compute_eff=1.0, low_precision_eff=1.0, weight_only_eff=1.0, memory_eff=1.0, layer_overhead_s=0.0,
                   step_overhead_s=0.0, roofline_p=64.0, comm_eff=1.0)  # fmt: skip
LLM_ANALYSIS = Factors(compute_eff=0.7, low_precision_eff=0.7, weight_only_eff=1.0, memory_eff=0.9,
                       layer_overhead_s=0.0, step_overhead_s=0.0, roofline_p=64.0, comm_eff=0.9)  # fmt: skip
METHODS: dict[str, tuple[Factors, bool]] = {
    "mlway": (DEFAULT_FACTORS, False),
    "roofline": (ROOFLINE, True),
    "llm-analysis": (LLM_ANALYSIS, True),
}


def _gpu(catalog: Catalog, name: str, peer: bool) -> GpuSpec:
    gpu = catalog.gpu(name)
    if not peer:
        return gpu
    return gpu.model_copy(update={"interconnect": gpu.interconnect.model_copy(update={"latency_us": 1e-6})})


def _deployment(catalog: Catalog, case: Case, peer: bool) -> Deployment:
    model = case.model if not isinstance(case.model, str) else catalog.model(case.model)
    knobs = EngineKnobs(kv_cache_dtype=case.kv, **case.knobs)  # type: ignore[arg-type]
    return Deployment(model, get_scheme(case.quant), _gpu(catalog, case.gpu, peer), case.tp, knobs)


def predict(catalog: Catalog, case: Case, factors: Factors, peer: bool = False) -> float:
    dep = _deployment(catalog, case, peer)
    engine = get_engine(case.engine)
    step = StepModel(dep, engine, factors)
    if case.kind == "max_throughput":
        mem = engine.memory(dep, case.prompt + case.output)
        shape = Request(case.prompt, case.output, dict.fromkeys(("p50", "p95", "p99"), float(case.prompt)),
                        dict.fromkeys(("p50", "p95", "p99"), float(case.output)))  # fmt: skip
        replica = Replica(step, shape, batch_limit(dep, engine, mem, shape), mem.max_num_batched_tokens)
        return replica.full.output_rate
    if case.kind in ("static_tok_s", "static_first"):
        first, total = static_batch(step, case.batch, case.prompt, case.output)
        return first if case.kind == "static_first" else case.batch * case.output / total
    if case.kind == "prefill":
        return step.prefill_time(case.prompt)
    if case.kind == "decode":
        return step.decode_time(1, case.prompt)
    if case.kind == "total":  # kipply's arithmetic: prefill + tokens x decode time
        return step.prefill_time(case.prompt) + case.output * step.decode_time(1, case.prompt)
    if case.kind == "tg":  # llama-bench tg N: N tokens from an empty prompt, batch 1
        return case.output / sum(step.decode_time(1, c) for c in range(1, case.output + 1))
    return case.prompt / step.prefill_time(case.prompt)  # llama-bench pp N


def predict_memory(catalog: Catalog, case: MemCase) -> tuple[float, float | None]:
    """mlway's value and gpu_poor's (KV metrics only: no GQA, same KV budget)."""
    model = catalog.model(case.model).model_copy(update=case.model_update)
    scheme = get_scheme(case.quant)
    if case.metric == "file_gib":
        return weight_bytes(model, scheme) / GIB, None
    dep = Deployment(model, scheme, catalog.gpu(case.gpu), case.tp, EngineKnobs(**case.knobs))  # type: ignore[arg-type]
    mem = get_engine(case.engine).memory(dep, case.max_context)
    gpu_poor_token = 2 * model.num_layers * model.hidden_size * 2 / case.tp
    gpu_poor_tokens = int(mem.kv_cache // (mem.block_size * gpu_poor_token)) * mem.block_size
    values: dict[str, tuple[float, float | None]] = {
        "weights_gib": (mem.weights / GIB, None),
        "peak_gib": ((mem.weights + mem.activation_peak) / GIB, None),
        "act_gib": (mem.activation_peak / GIB, None),
        "kv_gib": (mem.kv_cache / GIB, None),
        "blocks": (mem.num_blocks, gpu_poor_tokens / mem.block_size),
        "concurrency": (mem.max_concurrency, gpu_poor_tokens / case.max_context),
        "max_tokens": (mem.kv_tokens, gpu_poor_tokens),
    }
    return values[case.metric]


def _err(predicted: float, published: float) -> float:
    return predicted / published - 1


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _median(errors: list[float]) -> float:
    return statistics.median(abs(e) for e in errors) if errors else float("nan")


MISSES: list[tuple[str, str, float]] = []
HELD_OUT_SOURCES = (
    "Sources: TensorRT-LLM `docs/source/performance/perf-overview.md` (trtllm-bench, ModelOpt FP8 checkpoints; "
    "FP8 KV cache assumed, kv_cache_free_gpu_mem_fraction 0.9); TensorRT-LLM release/0.5.0 "
    "`docs/source/performance.md` (static batches, `--enable_fp8 --fp8_kv_cache` on H100/L40S); "
    "XiongjieDai/GPU-Benchmarks-on-LLM-Inference (llama.cpp `llama-bench`, Llama 3 8B, May 2024; "
    "mlway's catalog Llama 3.1 8B has the same shapes); vLLM PRs 10511, 2031, 12569 (memory logs). "
    "The 70B W8A8 log of PR 12569 does not name its GPU: an H100 80GB is assumed."
)
WHY = [
    (
        "- **KV cache (gpu_poor)**: gpu_poor sizes K and V with the full hidden size; Llama 3 uses 8 KV heads for "
        "32 query heads (GQA), so its KV per token is 4x too high: on the RTX 3090 it predicts ~0.39x concurrency "
        "at 20,000 tokens (vLLM starts with 1.56x) and would reject a context vLLM serves."
    ),
    (
        "- **Pure roofline (LLM-Viewer)**: assumes 100% of peak FLOP/s and bandwidth and no per-step cost, so it "
        "over-predicts throughput and under-predicts latency on every row. mlway applies measured-scale "
        "efficiencies (68% of 16-bit peak, 50% of FP8 peak, 85% of bandwidth), a rounded roofline corner (a "
        "matmul near the ridge point reaches neither limit) and per-step/per-layer overheads (kernel launches, "
        "scheduling) that dominate small batches."
    ),
    (
        "- **llm-analysis (0.7/0.9)**: close on large 16-bit GEMMs (FasterTransformer prefill), but with no "
        "step overhead it under-predicts batch-1 decode, and applying 70% to FP8 peaks over-predicts FP8 "
        "throughput; with no all-reduce latency it also misses the TP2 rows."
    ),
    (
        "- **Capacity-bound rows** (long outputs at infinite rate): all three formulas share mlway's KV-capacity "
        "bookkeeping here; without it (a roofline at the engine's max batch) the peers' error would be larger."
    ),
]
MISS_CAUSES = (
    "Likely causes, none modelled per row: TensorRT-LLM v0.5 (2023) at batch 1 in FP8 on H100 was slower than "
    "its bandwidth allows (early FP8 kernels; short prompts are dominated by fixed costs the single overhead "
    "factor underestimates). Its Llama-2-70B TP4 static batches with 2048 output tokens decode ~2x slower than "
    "the bandwidth and all-reduce model says; we do not know why (the decode attention of that release is a "
    "guess). llama.cpp prompt processing reaches ~50% of the GeForce FP16-accumulate peak, below the 68% mlway "
    "assumes. The long-output Llama 3.1 405B TP8 rows are KV-capacity-bound, and trtllm-bench's batch and KV "
    "settings for them are not published. Memory: vLLM's non-torch memory differs by version and GPU "
    "(0.16-1.8 GiB in logs; mlway assumes 0.35 GiB, +0.25 GiB with TP), vLLM 0.2 (Dec 2023) kept ~13 GiB per "
    "GPU for NCCL at TP4, and V1's sampler/max_num_seqs defaults changed between releases: the KV cache is a "
    "small difference of large numbers, so 1-3 GiB of overhead moves it by tens of percent. "
    "`mlway plan calibrate` closes exactly these gaps for one GPU and engine from real bench runs."
)


def perf_table(catalog: Catalog, cases: list[Case]) -> tuple[list[str], dict[str, list[float]]]:
    lines = ["| measurement | published | mlway | err | roofline | err | llm-analysis | err |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    errors: dict[str, list[float]] = {m: [] for m in METHODS}
    for case in cases:
        cells = [case.label, _fmt(case.published, case.unit)]
        for method, (factors, peer) in METHODS.items():
            value = predict(catalog, case, factors, peer)
            err = _err(value, case.published)
            errors[method].append(err)
            cells += [_fmt(value, case.unit), f"{err:+.1%}"]
            if method == "mlway" and abs(err) > 0.2:
                MISSES.append((case.group, case.label, err))
        lines.append("| " + " | ".join(cells) + " |")
    return lines, errors


def memory_table(catalog: Catalog, cases: list[MemCase]) -> tuple[list[str], list[float], list[float]]:
    lines = ["| measurement | source | published | mlway | err | gpu_poor KV (no GQA) | err |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    ours, theirs = [], []
    for case in cases:
        value, peer = predict_memory(catalog, case)
        err = _err(value, case.published)
        ours.append(err)
        peer_cells = ["-", "-"]
        if peer is not None:
            theirs.append(_err(peer, case.published))
            peer_cells = [_num(peer), f"{theirs[-1]:+.1%}"]
        lines.append(f"| {case.label} | {case.source} | {case.published:,.6g} | {_num(value)} | {err:+.2%} | "
                     + " | ".join(peer_cells) + " |")  # fmt: skip
    return lines, ours, theirs


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timing(catalog: Catalog) -> tuple[list[str], list[float]]:
    workload = Workload(users=100, input_tokens=TokenDist.parse("2000"), output_tokens=TokenDist.parse("300"),
                        slo=parse_slo("ttft_p95=1s,tpot_p95=50ms"))  # fmt: skip
    lines = ["| model | combinations | options | rejected | seconds (best of 3) |", "|---|---:|---:|---:|---:|"]
    times = []
    for model in catalog.models.values():
        wl = workload
        if model.kind == "encoder":
            wl = Workload(rps=200, input_tokens=TokenDist.parse("512"), output_tokens=TokenDist.parse("0"),
                          slo=parse_slo("e2e_p95=200ms"))  # fmt: skip
        request = PlanRequest(workload=wl)
        best = min(_timed(lambda m=model, r=request: recommend(m, r, catalog)) for _ in range(3))  # type: ignore[misc]
        plan = recommend(model, request, catalog)
        times.append(best)
        lines.append(f"| {model.name} | {plan.searched} | {len(plan.options)} | {len(plan.rejected)} | {best:.3f} |")
    return lines, times


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def main() -> int:
    os.environ.setdefault("MLWAY_PLAN_CATALOG", str(HERE / ".no-user-catalog"))
    catalog = load_catalog()
    mem_lines, mem_err, gpu_poor_err = memory_table(catalog, MEMORY)
    ho_mem_lines, ho_mem_err, ho_gpu_poor_err = memory_table(catalog, HELD_OUT_MEMORY)
    cal_lines, cal_err = perf_table(catalog, CALIBRATION)
    groups: dict[str, list[Case]] = {}
    for case in HELD_OUT:
        groups.setdefault(case.group, []).append(case)
    held: dict[str, tuple[list[str], dict[str, list[float]]]] = {g: perf_table(catalog, cs) for g, cs in groups.items()}
    time_lines, times = timing(catalog)

    summary = ["| set | rows | mlway | pure roofline | llm-analysis 0.7/0.9 |", "|---|---:|---:|---:|---:|"]
    summary.append(f"| calibration: throughput and latency | {len(CALIBRATION)} | {_median(cal_err['mlway']):.1%} | "
                   f"{_median(cal_err['roofline']):.1%} | {_median(cal_err['llm-analysis']):.1%} |")  # fmt: skip
    for name, (_, errs) in held.items():
        summary.append(f"| {name} | {len(errs['mlway'])} | {_median(errs['mlway']):.1%} | "
                       f"{_median(errs['roofline']):.1%} | {_median(errs['llm-analysis']):.1%} |")  # fmt: skip
    all_held = {m: [e for _, errs in held.values() for e in errs[m]] for m in METHODS}
    summary.append(f"| all held-out throughput and latency | {len(all_held['mlway'])} | "
                   f"{_median(all_held['mlway']):.1%} | {_median(all_held['roofline']):.1%} | "
                   f"{_median(all_held['llm-analysis']):.1%} |")  # fmt: skip
    worst_mem = max(abs(e) for e in mem_err)
    report = [
        "# mlway plan: accuracy and speed",
        "",
        f"- machine: {_machine()}",
        f"- commit: `{_commit()}`",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        "- command: `python benchmarks/plan/accuracy.py` (this file is written by it)",
        "- factors: `mlway.plan.DEFAULT_FACTORS`, ONE set for every row below; no per-row fitting.",
        "",
        "## Summary (median absolute error; goal: memory within 2%, throughput/latency within 20%)",
        "",
        (
            f"Memory, calibration file: every row within **{worst_mem:.2%}** (worst row); median "
            f"{_median(mem_err):.2%}. gpu_poor's KV formula on the same KV rows: median {_median(gpu_poor_err):.0%}."
        ),
        "",
        *summary,
        "",
        "## Memory: the calibration file (vLLM issue 10517, RTX 3090, Llama-3.1-8B bf16, engine `vllm-v0`)",
        "",
        *mem_lines,
        "",
        "## Throughput and latency: the calibration file",
        "",
        *cal_lines,
        "",
        "## Held-out: published measurements NOT in the calibration file",
        "",
        HELD_OUT_SOURCES,
        "",
    ]
    for name, (lines, _) in held.items():
        report += [f"### {name}", "", *lines, ""]
    report += [
        "### held-out memory",
        "",
        *ho_mem_lines,
        "",
        (
            f"Held-out memory median error: mlway {_median(ho_mem_err):.2%}; "
            f"gpu_poor KV rows {_median(ho_gpu_poor_err):.0%}."
        ),
        "",
        "## Where mlway is closer than the peers, and why",
        "",
        *WHY,
        (
            "- **Sanity check of the peer re-implementations**: the calibration file states llm-analysis at "
            "0.7/0.9 lands -1.6% (prefill) and -13.8% (decode) from FasterTransformer 13B on one A100 and -24% "
            f"to -27% at TP2; here it gives {cal_err['llm-analysis'][3]:+.1%} / {cal_err['llm-analysis'][4]:+.1%} "
            f"at TP1 and {cal_err['llm-analysis'][6]:+.1%} / {cal_err['llm-analysis'][7]:+.1%} at TP2. The file "
            "states a pure roofline over-estimates TensorRT-LLM throughput 1.44-1.91x on an A100; here the A100 "
            f"GPT-J rows give {1 + cal_err['roofline'][11]:.2f}x and {1 + cal_err['roofline'][15]:.2f}x."
        ),
        "",
        "### Rows where mlway misses by more than 20%",
        "",
        "| set | measurement | mlway error |",
        "|---|---|---:|",
        *[f"| {g} | {label} | {err:+.1%} |" for g, label, err in MISSES],
        "",
        MISS_CAUSES,
        "",
        "## Speed: a full recommendation over the whole catalog",
        "",
        (
            "Each row searches every catalog GPU x TP 1/2/4/8 x quantizations (bf16, fp8, awq-int4) for 100 users, "
            "2000/300 tokens, TTFT p95 1 s, TPOT p95 50 ms (bge-m3: 200 req/s, 512 tokens, E2E p95 200 ms). "
            f"Goal < 1 s: slowest {max(times):.3f} s, median {statistics.median(times):.3f} s."
        ),
        "",
        *time_lines,
        "",
    ]
    text = "\n".join(report)
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
