"""Console tables of plans and memory breakdowns (rich), and their JSON form."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from mlway.core.units import format_bytes, format_duration
from mlway.plan.gpus import GpuSpec
from mlway.plan.memory import MemoryBreakdown
from mlway.plan.modelspec import ModelSpec
from mlway.plan.recommendation import Band, Option, Plan


def _band(band: Band, *, unit: str = "s") -> str:
    if unit == "s":
        return f"{format_duration(band.mid)} ({format_duration(band.low)}-{format_duration(band.high)})"
    return f"{band.mid:,.0f} ({band.low:,.0f}-{band.high:,.0f})"


def _gib(value: float) -> str:
    return format_bytes(value)


def memory_table(mem: MemoryBreakdown, title: str | None = None) -> Table:
    """Where one GPU's memory goes, as the engine accounts for it."""
    table = Table(title=title or f"memory of one GPU: {mem.gpu}, TP {mem.tp}, {mem.quant}, {mem.engine}")
    table.add_column("part")
    table.add_column("size", justify="right")
    table.add_column("meaning")
    table.add_row("total", _gib(mem.total), "memory the driver reports")
    table.add_row("budget", _gib(mem.budget), "what the engine lets itself use (utilization x total)")
    table.add_row("weights", _gib(mem.weights), f"{mem.quant} weights of this TP rank")
    profiled = f"profiling pass over {mem.max_num_batched_tokens} tokens / {mem.max_num_seqs} sequences"
    table.add_row("activation peak", _gib(mem.activation_peak), profiled)
    table.add_row("non-torch", _gib(mem.non_torch), "CUDA context, NCCL, allocator outside torch")
    table.add_row("KV cache", _gib(mem.kv_cache), f"{mem.kv_dtype} KV, {_gib(mem.kv_per_token)} per token")
    table.add_row("CUDA graphs (est.)", _gib(mem.cuda_graphs), "captured graphs, outside the budget")
    table.add_row("KV blocks", f"{mem.num_blocks:,}", f"blocks of {mem.block_size} tokens = {mem.kv_tokens:,} tokens")
    table.add_row("max concurrency", f"{mem.max_concurrency:.2f}x", f"requests of {mem.max_model_len:,} tokens at once")
    table.add_row("longest context", f"{mem.max_len_that_fits:,}", "the largest max_model_len that fits")
    return table


def memory_renderable(mem: MemoryBreakdown) -> Group:
    parts: list[Any] = [memory_table(mem)]
    if mem.reason:
        parts.append(Text(f"refused: {mem.reason}", style="bold red"))
    else:
        parts.append(Text(f"fits: {mem.max_concurrency:.2f} requests of {mem.max_model_len:,} tokens", style="green"))
    parts += [Text(f"note: {n}", style="yellow") for n in mem.notes]
    return Group(*parts)


def _short(seconds: float) -> str:
    if math.isinf(seconds):
        return "inf"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


def options_table(plan: Plan, top: int) -> Table:
    widths = sorted({round((o.ttft["p95"].high / o.ttft["p95"].mid - 1) * 100) for o in plan.options[:top]})
    band = "/".join(f"+-{w}%" for w in widths)
    table = Table(
        title=f"{len(plan.options)} options meet the SLOs, cheapest first (predictions {band})",
        box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False,
    )  # fmt: skip
    for name in ("#", "option", "$/h", "$/Mtok", "TTFT95", "TPOT95", "tok/s", "slack"):
        table.add_column(name, justify="left" if name == "option" else "right", no_wrap=True)
    for o in plan.options[:top]:
        flags = ("*" if o.calibrated else "") + ("!" if o.marginal else "")
        table.add_row(
            f"{o.rank}{flags}", f"{o.gpu} TP{o.tp}x{o.replicas} {o.quant}", f"{o.cost_per_hour:,.2f}",
            "-" if math.isinf(o.cost_per_million_tokens) else f"{o.cost_per_million_tokens:,.3f}",
            _short(o.ttft["p95"].mid), _short(o.tpot["p95"].mid), f"{o.output_tokens_per_s.mid:,.0f}",
            f"{o.headroom:+.0%} {o.binding.split('_')[0]}",
        )  # fmt: skip
    table.caption = "* calibrated profile  ! pessimistic end breaks an SLO: verify with bench  slack: least SLO margin"
    return table


def rejected_table(plan: Plan, limit: int = 15) -> Table:
    counts = Counter(r.kind for r in plan.rejected)
    summary = ", ".join(f"{k}: {n}" for k, n in counts.most_common())
    table = Table(title=f"{len(plan.rejected)} rejected ({summary})")
    for name in ("GPU", "TP", "quant", "binding", "why"):
        table.add_column(name, no_wrap=name != "why")
    shown = sorted(plan.rejected, key=lambda r: (r.kind == "unsupported", r.kind, r.gpu, r.tp))[:limit]
    for r in shown:
        table.add_row(r.gpu, str(r.tp), r.quant, r.kind, r.reason)
    if len(plan.rejected) > limit:
        table.caption = f"... and {len(plan.rejected) - limit} more (--json lists all)"
    return table


def print_plan(console: Console, plan: Plan, model: ModelSpec, top: int = 5) -> None:
    """The console report of a recommendation."""
    wl = plan.workload
    slo = ", ".join(str(t) for t in wl.slo) or "none"
    console.print(f"[bold]{model.name}[/] ({plan.params_b:.2f} B params) on {plan.engine}: {wl.describe()}; SLO: {slo}")
    console.print(f"searched {plan.searched} GPU x TP x quantization combinations in {plan.elapsed_s * 1000:.0f} ms")
    if plan.options:
        console.print(options_table(plan, top))
        best = plan.options[0]
        _print_best(console, best)
    if plan.rejected:
        console.print(rejected_table(plan))
    if plan.diagnosis:
        console.print(Text(plan.diagnosis, style="bold red"))


def _print_best(console: Console, best: Option) -> None:
    console.print(memory_renderable(best.memory))
    console.print(f"[bold]at the target load[/]: {best.explanation}")
    lat = Table(title="predicted latency per percentile (one replica at its share of the load)")
    for name in ("percentile", "TTFT", "TPOT", "E2E"):
        lat.add_column(name, justify="right")
    for pct in ("p50", "p95", "p99"):
        lat.add_row(pct, _band(best.ttft[pct]), _band(best.tpot[pct]), _band(best.e2e[pct]))
    console.print(lat)
    console.print(f"[bold]engine[/]: {best.engine_command}", soft_wrap=True)
    console.print(f"[bold]verify[/]: {best.bench_command}", soft_wrap=True)
    console.print(f"prices per GPU hour as of {best.price_date}; edit them in your user catalog")


def to_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2)


def gpu_table(gpus: list[GpuSpec]) -> Table:
    table = Table(title=f"{len(gpus)} GPUs (dense TFLOPS; prices per GPU hour)")
    for name in ("name", "memory", "usable", "TB/s", "BF16", "FP8", "INT8", "link", "$/h", "price date"):
        table.add_column(name)
    for g in gpus:
        table.add_row(
            g.name, f"{g.memory_gb:g} GB", f"{g.usable_gib:g} GiB", f"{g.bandwidth_tbs:g}", f"{g.tflops_bf16:g}",
            f"{g.tflops_fp8:g}" if g.tflops_fp8 else "-", f"{g.tops_int8:g}" if g.tops_int8 else "-",
            f"{g.interconnect.kind} {g.interconnect.bandwidth_gbs:g} GB/s", f"{g.price.usd_per_hour:g}", g.price.date,
        )  # fmt: skip
    return table


def model_table(models: list[ModelSpec]) -> Table:
    table = Table(title=f"{len(models)} models")
    for name in ("name", "params", "layers", "hidden", "heads/kv", "head dim", "KV/token (16-bit)", "context", "notes"):
        table.add_column(name)
    for m in models:
        notes = []
        if m.is_moe:
            notes.append(f"MoE {m.num_experts}x top-{m.experts_per_token}")
        if m.sliding_layers:
            notes.append(f"sliding {m.sliding_window} on {m.sliding_layers} layers")
        if m.kind == "encoder":
            notes.append("encoder")
        table.add_row(
            m.name, f"{m.total_params / 1e9:.2f} B", str(m.num_layers), str(m.hidden_size),
            f"{m.num_heads}/{m.num_kv_heads}", str(m.head_dim), format_bytes(m.kv_elements_per_token(1) * 2),
            f"{m.max_position_embeddings:,}", ", ".join(notes),
        )  # fmt: skip
    return table
