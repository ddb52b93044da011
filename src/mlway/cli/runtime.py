"""``mlway runtime``: inspect a model bundle, measure its variants on this machine, plan placement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlway.core.units import format_bytes, parse_bytes, parse_int_list
from mlway.runtime import Budget, load_bundle, load_bundles, measure_bundle, plan_placement
from mlway.runtime.bundle import Bundle, check_file
from mlway.runtime.manifest import Variant
from mlway.runtime.measure import machine_name
from mlway.runtime.placement import Placement
from mlway.runtime.variants import memory_need, refusal

app = typer.Typer(help="Model bundles: inspect, measure each variant here, plan placement.", no_args_is_help=True)

BundleArg = Annotated[
    Path, typer.Argument(metavar="BUNDLE", help="A bundle directory (holding mlway-bundle.yaml) or the manifest.")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _files_check(bundle: Bundle, variant: Variant) -> list[str]:
    return [p for p in (check_file(bundle, f) for f in variant.files) if p]


def _speed(variant: Variant, machine: str) -> str:
    here = [m for m in variant.measurements if m.machine == machine] or variant.measurements
    if not here:
        return "-"
    parts = [f"{m.threads}t b{m.batch}: {m.latency_p50_ms:.2f} ms, {m.throughput_per_s:,.0f}/s" for m in here]
    return "\n".join(parts) + ("" if here[0].machine == machine else f"\n(on {here[0].machine})")


@app.command()
def inspect(bundle_path: BundleArg, as_json: JsonOut = False) -> None:
    """Show a bundle: model, quota, and each variant's files, sha256 check, memory and measured speed."""
    bundle = load_bundle(bundle_path)
    manifest = bundle.manifest
    machine = machine_name()
    if as_json:
        checks = {v.name: {"files": _files_check(bundle, v), "refused": refusal(bundle, v)} for v in manifest.variants}
        typer.echo(json.dumps({"manifest": manifest.model_dump(mode="json"), "checks": checks}, indent=2))
        return
    console = Console()
    quota = manifest.quota
    console.print(
        f"[bold]{escape(manifest.name)}[/] {escape(manifest.version)} ({manifest.task})  "
        f"quota: {format_bytes(quota.memory)}, {quota.cpu_threads} thread(s), concurrency {quota.max_concurrency}, "
        f"queue {quota.max_queue}  priority {manifest.priority}{'  pinned' if manifest.pinned else ''}"
    )
    console.print("inputs:  " + escape(", ".join(s.describe() for s in manifest.inputs)))
    console.print("outputs: " + escape(", ".join(s.describe() for s in manifest.outputs)))
    if manifest.labels:
        console.print("labels:  " + escape(", ".join(manifest.labels)))
    table = Table(title=f"variants, most preferred first (speed on {machine})", title_justify="left")
    for column in ("#", "variant", "backend", "files", "sha256", "memory", "speed (p50, throughput)"):
        table.add_column(column)
    for index, variant in enumerate(manifest.variants, 1):
        problems = _files_check(bundle, variant)
        refused = refusal(bundle, variant, verify=False)
        need, source = memory_need(bundle, variant)
        files = "\n".join(
            f"{f.path} ({format_bytes(f.bytes)})" if f.bytes is not None else f.path for f in variant.files
        )
        check = "[green]ok[/]" if not problems else "[red]" + escape("; ".join(problems)) + "[/]"
        backend = variant.backend + (f"\n[red]{escape(refused)}[/]" if refused else "")
        table.add_row(
            str(index),
            variant.name,
            backend,
            escape(files),
            check,
            f"{format_bytes(need)} ({source})",
            escape(_speed(variant, machine)),
        )
    console.print(table)


@app.command()
def measure(
    bundle_path: BundleArg,
    threads: Annotated[str, typer.Option(help="Thread counts to measure, e.g. 1,2.")] = "1",
    batch: Annotated[str, typer.Option(help="Batch sizes to measure, e.g. 1,8.")] = "1",
    iterations: Annotated[int, typer.Option(min=3, help="Timed calls per thread count and batch.")] = 50,
    max_seconds: Annotated[float, typer.Option(min=0.1, help="Stop timing one setting after this long.")] = 10.0,
    variant: Annotated[list[str] | None, typer.Option(help="Measure only this variant (repeatable).")] = None,
    write: Annotated[bool, typer.Option(help="Write the numbers into the manifest.")] = True,
) -> None:
    """Measure each variant's real RSS and latency/throughput here, in a worker process; write the manifest."""
    bundle = load_bundle(bundle_path)
    console = Console()
    with console.status("measuring") as status:
        _, report = measure_bundle(
            bundle,
            threads=parse_int_list(threads, what="--threads"),
            batches=parse_int_list(batch, what="--batch"),
            iterations=iterations,
            max_seconds=max_seconds,
            variants=variant,
            write=write,
            progress=lambda text: status.update(f"measuring {escape(text)}"),
        )
    table = Table(title=f"{bundle.name} on {machine_name()}", title_justify="left")
    for column in ("variant", "threads", "batch", "p50", "p90", "items/s", "peak RSS"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    failed = False
    for result in report:
        if result.error:
            failed = True
            table.add_row(result.variant, "-", "-", "[red]" + escape(result.error) + "[/]", "", "", "")
        for m in result.measurements:
            table.add_row(
                result.variant,
                str(m.threads),
                str(m.batch),
                f"{m.latency_p50_ms:.2f} ms",
                f"{m.latency_p90_ms:.2f} ms",
                f"{m.throughput_per_s:,.1f}",
                format_bytes(m.rss_bytes),
            )
    console.print(table)
    if write:
        console.print(f"wrote {escape(str(bundle.manifest_path))}")
    if failed:
        raise typer.Exit(1)


def print_placement(placement: Placement, console: Console) -> None:
    """The plan as a table: model, variant, memory, cores, reason."""
    table = Table(title=f"placement into {placement.budget.describe()}", title_justify="left")
    for column in ("model", "priority", "variant", "memory", "quota", "cores", "why"):
        table.add_column(column)
    for model in placement.models:
        table.add_row(
            escape(model.model) + (" (pinned)" if model.pinned else ""),
            str(model.priority),
            model.variant or "[red]none[/]",
            format_bytes(model.memory_bytes) if model.variant else "-",
            format_bytes(model.memory_limit),
            ",".join(map(str, model.cpu_ids)) or "-",
            escape(model.reason),
        )
    console.print(table)
    console.print(f"free: {format_bytes(placement.free_memory)}, cores {placement.free_cpu_ids or 'none'}")


@app.command()
def plan(
    models: Annotated[Path, typer.Argument(help="A directory of bundles (or one bundle).")],
    memory_budget: Annotated[str, typer.Option(help="Memory for all model workers, e.g. 6GiB.")] = "6GiB",
    cpus: Annotated[int, typer.Option(min=0, help="Cores to use (0: all of this machine's).")] = 0,
    as_json: JsonOut = False,
) -> None:
    """Dry run of admission: which variant of each model would load, on which cores, and why."""
    budget = Budget(memory=parse_bytes(memory_budget, what="--memory-budget"), cpus=cpus)
    placement = plan_placement(load_bundles(models), budget)
    if as_json:
        typer.echo(placement.model_dump_json(indent=2))
    else:
        print_placement(placement, Console())
