"""``mlway plan``: size GPUs and cost for an LLM workload; memory of one setup; calibration; catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlway.core.errors import InputError
from mlway.core.units import format_duration, parse_bytes, parse_duration, parse_int_list
from mlway.plan import (
    EngineKnobs,
    PlanRequest,
    TokenDist,
    Workload,
    calibrate,
    load_catalog,
    memory_for,
    parse_slo,
    plan_for,
)
from mlway.plan.charts import write_html, write_png
from mlway.plan.gpus import GIB
from mlway.plan.report import gpu_table, memory_renderable, model_table, print_plan, to_json
from mlway.plan.workload import SloTarget

app = typer.Typer(
    help="Size GPUs and cost for an LLM workload from users, tokens and latency targets.",
    invoke_without_command=True,
    no_args_is_help=False,
)
catalog_app = typer.Typer(help="List the catalog: gpus, models, presets.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

Engine = Annotated[str, typer.Option(help="vllm (default), vllm-v0, sglang, tensorrt-llm, llama.cpp.")]
Utilization = Annotated[
    float | None, typer.Option(help="vLLM gpu_memory_utilization (SGLang mem_fraction_static, TRT KV fraction).")
]
MaxSeqs = Annotated[int | None, typer.Option(help="Sequences batched at once (vLLM max_num_seqs).")]
MaxBatched = Annotated[int | None, typer.Option(help="Tokens per engine step (vLLM max_num_batched_tokens).")]
KvDtype = Annotated[str, typer.Option(help="KV cache dtype: auto (16-bit), fp8, int8, q8_0.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _knobs(
    utilization: float | None,
    max_num_seqs: int | None,
    max_num_batched_tokens: int | None,
    kv_cache_dtype: str,
    block_size: int | None = None,
    gpu_memory: str | None = None,
    non_torch_gib: float | None = None,
) -> EngineKnobs:
    return EngineKnobs(
        non_torch_gib=non_torch_gib,
        gpu_memory_utilization=utilization,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        kv_cache_dtype=kv_cache_dtype,
        block_size=block_size,
        gpu_memory_gib=parse_bytes(gpu_memory, what="--gpu-memory") / GIB if gpu_memory else None,
    )


def _slo(ttft: str | None, tpot: str | None, e2e: str | None, extra: str | None) -> list[SloTarget]:
    targets = parse_slo(extra) if extra else []
    for metric, value in (("ttft", ttft), ("tpot", tpot), ("e2e", e2e)):
        if value:
            seconds = parse_duration(value, what=f"--{metric}-p95")
            targets.append(SloTarget(metric=metric, percentile="p95", seconds=seconds))  # type: ignore[arg-type]
    return targets


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


@app.callback()
def recommend(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Catalog name (llama-3.1-8b) or a config.json path.")] = None,
    users: Annotated[int | None, typer.Option(help="Concurrent users (closed loop).")] = None,
    rps: Annotated[float | None, typer.Option(help="Requests per second (open loop, Poisson).")] = None,
    input_tokens: Annotated[str, typer.Option(help="Prompt tokens: 2000, uniform:500-3000, normal:2000,300.")] = "512",
    output_tokens: Annotated[str, typer.Option(help="Answer tokens, same forms.")] = "128",
    ttft_p95: Annotated[str | None, typer.Option(help="Time to first token limit at p95, e.g. 1s.")] = None,
    tpot_p95: Annotated[str | None, typer.Option(help="Time per output token limit at p95, e.g. 50ms.")] = None,
    e2e_p95: Annotated[str | None, typer.Option(help="End-to-end latency limit at p95.")] = None,
    slo: Annotated[str | None, typer.Option(help="Other limits: ttft_p99=2s,tpot_p50=30ms,e2e_p99=20s.")] = None,
    preset: Annotated[str | None, typer.Option(help="MLPerf SLO preset, e.g. llama3_1-8b-interactive.")] = None,
    quant: Annotated[str | None, typer.Option(help="Quantizations to try: bf16,fp8,awq-int4,gptq-int4,...")] = None,
    gpus: Annotated[str | None, typer.Option(help="GPUs to try: l4,l40s,a100-80gb,h100-sxm (default: all).")] = None,
    tp: Annotated[str, typer.Option(help="Tensor-parallel sizes to try.")] = "1,2,4,8",
    max_context: Annotated[int | None, typer.Option(help="max_model_len to provision (default: in + out).")] = None,
    engine: Engine = "vllm",
    gpu_memory_utilization: Utilization = None,
    max_num_seqs: MaxSeqs = None,
    max_num_batched_tokens: MaxBatched = None,
    kv_cache_dtype: KvDtype = "auto",
    think_time: Annotated[str, typer.Option(help="Closed loop: pause between a user's requests.")] = "0s",
    duration: Annotated[str, typer.Option(help="Load-test length, to size the queue past saturation.")] = "120s",
    max_gpus: Annotated[int, typer.Option(help="Reject options needing more GPUs.")] = 64,
    budget: Annotated[float | None, typer.Option(help="Reject options above this USD per hour.")] = None,
    max_utilization: Annotated[
        float, typer.Option(help="Most of a replica's capacity to plan for (burst headroom).")
    ] = 0.85,
    top: Annotated[int, typer.Option(help="Options to show.")] = 5,
    as_json: JsonOut = False,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report with charts.")] = None,
    png: Annotated[Path | None, typer.Option(help="Write PNG charts (cost vs latency, memory).")] = None,
) -> None:
    """Recommend GPUs, TP, quantization and replicas that meet the SLOs, cheapest first."""
    if ctx.invoked_subcommand is not None:
        return
    catalog = load_catalog()
    targets = _slo(ttft_p95, tpot_p95, e2e_p95, slo)
    if preset:
        chosen = catalog.preset(preset)
        targets = chosen.targets() + targets
        model = model or chosen.model
    if model is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    workload = Workload(
        users=users, rps=rps, think_time=parse_duration(think_time, what="--think-time"),
        input_tokens=TokenDist.parse(input_tokens, what="--input-tokens"),
        output_tokens=TokenDist.parse(output_tokens, what="--output-tokens"),
        max_context=max_context, slo=targets, test_duration=parse_duration(duration, what="--duration"),
    )  # fmt: skip
    request = PlanRequest(
        workload=workload, gpus=_names(gpus), quants=_names(quant), tps=parse_int_list(tp, what="--tp"),
        engine=engine, knobs=_knobs(gpu_memory_utilization, max_num_seqs, max_num_batched_tokens, kv_cache_dtype),
        max_gpus=max_gpus, budget_per_hour=budget, top=top, max_utilization=max_utilization,
    )  # fmt: skip
    spec, plan = plan_for(catalog, model, request)
    console = Console()
    if as_json:
        typer.echo(to_json(plan))
    else:
        print_plan(console, plan, spec, top)
    if html:
        written = write_html(plan, html)
        Console(stderr=True).print(f"wrote {written}")
    if png:
        for path in write_png(plan, png):
            Console(stderr=True).print(f"wrote {path}")
    if not plan.options:
        first = (plan.diagnosis or "no option meets every constraint").splitlines()[0]
        raise InputError(first, hint="the diagnosis above (or 'diagnosis' in --json) says what would satisfy it")


@app.command()
def memory(
    model: Annotated[str, typer.Option(help="Catalog name or config.json path.")],
    gpu: Annotated[str, typer.Option(help="GPU name, e.g. h100-sxm.")],
    tp: Annotated[int, typer.Option(help="Tensor-parallel size.")] = 1,
    quant: Annotated[str | None, typer.Option(help="bf16, fp8, int8, awq-int4, gptq-int4, gguf-q4_k_m...")] = None,
    max_context: Annotated[int | None, typer.Option(help="max_model_len (default: the model's).")] = None,
    engine: Engine = "vllm",
    gpu_memory_utilization: Utilization = None,
    block_size: Annotated[int | None, typer.Option(help="KV block size in tokens (vLLM: 16).")] = None,
    max_num_seqs: MaxSeqs = None,
    max_num_batched_tokens: MaxBatched = None,
    kv_cache_dtype: KvDtype = "auto",
    gpu_memory: Annotated[str | None, typer.Option(help="Override the GPU's reported total, e.g. 23.58GiB.")] = None,
    non_torch_gib: Annotated[
        float | None, typer.Option(help="Memory outside torch (CUDA context, NCCL), GiB; default 0.35 (+0.25 TP).")
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Memory of one GPU as the engine computes it: weights, activations, KV blocks, concurrency."""
    knobs = _knobs(
        gpu_memory_utilization, max_num_seqs, max_num_batched_tokens, kv_cache_dtype, block_size, gpu_memory,
        non_torch_gib,
    )  # fmt: skip
    _, mem = memory_for(
        load_catalog(), model, gpu, tp=tp, quant=quant, engine=engine, knobs=knobs, max_context=max_context
    )
    if as_json:
        typer.echo(json.dumps(mem.model_dump(mode="json"), indent=2))
    else:
        Console().print(memory_renderable(mem))
    if not mem.fits:
        raise InputError(
            f"{engine} would refuse to start: {mem.reason}",
            hint=f"--max-context {mem.max_len_that_fits} fits"
            if mem.max_len_that_fits
            else "use more TP or fewer bytes",
        )


@app.command("calibrate")
def calibrate_cmd(
    runs: Annotated[list[Path], typer.Argument(help="run.json files or directories written by mlway bench.")],
    gpu: Annotated[str, typer.Option(help="The GPU the runs were made on.")],
    engine: Annotated[str, typer.Option(help="The engine that served them.")] = "vllm",
    model: Annotated[str | None, typer.Option(help="Model name, when run.json's is not in the catalog.")] = None,
    quant: Annotated[str | None, typer.Option(help="Quantization served (default: the checkpoint's).")] = None,
    tp: Annotated[int, typer.Option(help="Tensor-parallel size served.")] = 1,
    kv_cache_dtype: KvDtype = "auto",
    max_num_seqs: MaxSeqs = None,
    max_num_batched_tokens: MaxBatched = None,
    as_json: JsonOut = False,
) -> None:
    """Fit the efficiency factors of (GPU, engine) from bench runs; later plans use the profile."""
    knobs = _knobs(None, max_num_seqs, max_num_batched_tokens, kv_cache_dtype)
    result = calibrate(
        list(runs), gpu=gpu, engine=engine, catalog=load_catalog(), model=model, quant=quant, tp=tp, knobs=knobs
    )
    if as_json:
        typer.echo(json.dumps(result.profile.model_dump(mode="json") | {"path": str(result.path)}, indent=2))
        return
    table = Table(
        title=f"calibration of {result.profile.gpu} + {result.profile.engine} ({result.profile.points} points)"
    )
    for name in ("point", "metric", "observed", "default factors", "fitted"):
        table.add_column(name, justify="right" if name != "point" else "left")
    for row in result.rows:
        for key, value in row.observed.items():
            fmt = (lambda v: f"{v:,.0f} tok/s") if key == "rate" else format_duration
            table.add_row(row.label, key, fmt(value), fmt(row.before[key]), fmt(row.after[key]))
    console = Console()
    console.print(table)
    f = result.profile.factors
    console.print(
        f"median |error|: {result.profile.median_abs_error_before:.1%} with the defaults -> "
        f"{result.profile.median_abs_error_after:.1%} fitted; compute_eff {f.compute_eff:.3f}, "
        f"low_precision_eff {f.low_precision_eff:.3f}, memory_eff {f.memory_eff:.3f}, "
        f"layer overhead {f.layer_overhead_s * 1e6:.1f} us, request overhead {f.request_overhead_s * 1e3:.1f} ms, "
        f"band +-{f.uncertainty:.0%}"
    )
    console.print(f"saved {result.path}; `mlway plan` now uses it for {result.profile.gpu} on {result.profile.engine}")


@catalog_app.command("gpus")
def catalog_gpus(as_json: JsonOut = False) -> None:
    """The GPUs with memory, bandwidth, TFLOPS, links and dated prices."""
    gpus = list(load_catalog().gpus.values())
    if as_json:
        typer.echo(json.dumps([g.model_dump(mode="json") for g in gpus], indent=2))
    else:
        Console().print(gpu_table(gpus))


@catalog_app.command("models")
def catalog_models(as_json: JsonOut = False) -> None:
    """The models with their architecture numbers."""
    models = list(load_catalog().models.values())
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in models], indent=2))
    else:
        Console().print(model_table(models))


@catalog_app.command("presets")
def catalog_presets(as_json: JsonOut = False) -> None:
    """The SLO presets (MLPerf server scenarios)."""
    presets = list(load_catalog().presets.values())
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in presets], indent=2))
        return
    table = Table(title="SLO presets")
    for name in ("name", "model", "TTFT", "TPOT", "percentile"):
        table.add_column(name)
    for p in presets:
        table.add_row(p.name, p.model or "-", format_duration(p.ttft_ms / 1000), format_duration(p.tpot_ms / 1000),
                      p.percentile)  # fmt: skip
    Console().print(table)
