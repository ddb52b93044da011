"""``mlway bench``: load-test any OpenAI-compatible LLM server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from mlway.cli.bench_simserver import sim_server
from mlway.core.errors import InputError
from mlway.core.units import parse_duration, parse_int_list

app = typer.Typer(help="Load-test OpenAI-compatible LLM servers.", no_args_is_help=True)
app.command("sim-server")(sim_server)
console = Console()

URL = Annotated[
    str, typer.Option("--url", help="Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1.")
]
MODEL = Annotated[str | None, typer.Option(help="Model id to request (default: the server's first model).")]
ENDPOINT = Annotated[str, typer.Option(help="completions, chat or embeddings.")]
STREAM = Annotated[bool, typer.Option("--stream/--no-stream", help="Stream responses (SSE); TTFT needs streaming.")]
API_KEY = Annotated[
    str | None, typer.Option(envvar=["MLWAY_API_KEY", "OPENAI_API_KEY"], help="Sent as a Bearer token.")
]
INPUT = Annotated[str, typer.Option(help="Prompt tokens: 512, uniform:256-768 or normal:512,64.")]
OUTPUT = Annotated[str, typer.Option(help="Output tokens forced per request (same forms); 'server' to not force.")]
REQUESTS = Annotated[int | None, typer.Option(help="Measured requests per load point (warm-up not included).")]
DURATION = Annotated[str | None, typer.Option(help="Sending time per load point, e.g. 120s or 2m.")]
WARMUP = Annotated[
    int | None, typer.Option(help="Warm-up requests per point (default: one per user, or one second of arrivals).")
]
TOKENIZER = Annotated[Path | None, typer.Option(help="Local Hugging Face tokenizer directory for exact token counts.")]
DATASET = Annotated[Path | None, typer.Option(help="JSONL file: {'prompt': ...} or {'messages': [...]} per line.")]
OUT = Annotated[Path | None, typer.Option(help="Run directory (default: runs/bench-<time>).")]


def _common(**kwargs: Any) -> dict[str, Any]:
    """Turn the CLI's shared options into BenchConfig fields, validating the typed forms."""
    endpoint = kwargs.pop("endpoint")
    if endpoint not in ("completions", "chat", "embeddings"):
        raise InputError(f"invalid --endpoint {endpoint!r}", hint="choose completions, chat or embeddings")
    duration = kwargs.pop("duration")
    output = kwargs.pop("output_tokens")
    extra = kwargs.pop("extra_body")
    try:
        extra_body = json.loads(extra) if extra else {}
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid --extra-body: {exc}", hint="write a JSON object: '{\"temperature\": 0}'") from exc
    if not isinstance(extra_body, dict):
        raise InputError("invalid --extra-body: must be a JSON object", hint="e.g. '{\"temperature\": 0}'")
    out = kwargs.pop("out") or Path("runs") / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    timeouts = {
        name: parse_duration(kwargs.pop(name), what=f"--{name.replace('_', '-')}")
        for name in ("connect_timeout", "read_timeout", "request_timeout")
    }
    return (
        kwargs
        | timeouts
        | {
            "endpoint": endpoint,
            "duration": parse_duration(duration, what="--duration") if duration else None,
            "output_tokens": None if output in ("server", "none") else output,
            "extra_body": extra_body,
            "out": out,
        }
    )


def _loads(concurrency: str | None, rate: str | None, arrival: str, burstiness: float, cap: int | None) -> list[Any]:
    from mlway.bench.summary import LoadSpec  # noqa: PLC0415 - keep `mlway --help` fast

    if (concurrency is None) == (rate is None):
        raise InputError(
            "choose one kind of load", hint="closed loop: --concurrency 10,50,100; open loop: --rate 60 (or 10,20,40)"
        )
    if arrival not in ("constant", "poisson", "gamma"):
        raise InputError(f"invalid --arrival {arrival!r}", hint="choose constant, poisson or gamma")
    if concurrency is not None:
        return [LoadSpec(mode="concurrency", concurrency=c) for c in parse_int_list(concurrency, what="--concurrency")]
    rates = []
    for item in (rate or "").split(","):
        try:
            value = float(item)
        except ValueError as exc:
            raise InputError(f"invalid --rate {rate!r}", hint="requests per second: 60 or 10,20,40") from exc
        if value <= 0:
            raise InputError(f"invalid --rate {rate!r}: rates must be positive")
        rates.append(value)
    kind: Literal["constant", "poisson", "gamma"] = arrival  # type: ignore[assignment]
    return [
        LoadSpec(
            mode="rate", rate=r, arrival=kind, burstiness=burstiness if kind == "gamma" else None, max_concurrency=cap
        )
        for r in rates
    ]


def _finish(result: Any, out: Path) -> None:
    from mlway.bench.report.console import render_run  # noqa: PLC0415

    render_run(console, result)
    if result.interrupted:
        console.print("[yellow]interrupted: partial results written[/]")
    console.print(f"results: {out}/run.json, {out}/summary.csv, {out}/report.html", highlight=False)


@app.command()
def run(
    url: URL,
    model: MODEL = None,
    concurrency: Annotated[str | None, typer.Option(help="Closed loop: users, a list is a sweep: 10,50,100.")] = None,
    rate: Annotated[str | None, typer.Option(help="Open loop: requests/s, a list is a sweep: 10,20,40.")] = None,
    arrival: Annotated[str, typer.Option(help="Open loop arrivals: constant, poisson or gamma.")] = "poisson",
    burstiness: Annotated[float, typer.Option(help="Gamma shape (1 = Poisson, <1 burstier).", min=0.01)] = 1.0,
    max_concurrency: Annotated[int | None, typer.Option(help="Open loop: cap on requests in flight.", min=1)] = None,
    requests: REQUESTS = None,
    duration: DURATION = None,
    warmup: WARMUP = None,
    think_time: Annotated[float, typer.Option(help="Closed loop: seconds a user waits between requests.", min=0)] = 0,
    input_tokens: INPUT = "512",
    output_tokens: OUTPUT = "128",
    endpoint: ENDPOINT = "completions",
    stream: STREAM = True,
    dataset: DATASET = None,
    shared_prefix: Annotated[int, typer.Option(help="Tokens every prompt shares at its start.", min=0)] = 0,
    salt: Annotated[bool, typer.Option("--salt/--no-salt", help="Per-run random prompt salt.")] = True,
    tokenizer: TOKENIZER = None,
    force_output: Annotated[str, typer.Option(help="auto, ignore_eos, logit_bias or none.")] = "auto",
    eos_token_id: Annotated[int | None, typer.Option(help="EOS id for the logit_bias method.")] = None,
    extra_body: Annotated[str | None, typer.Option(help="JSON merged into every request body.")] = None,
    slo: Annotated[str | None, typer.Option(help="SLO limits: ttft_p95=1s,tpot_p95=50ms.")] = None,
    api_key: API_KEY = None,
    connect_timeout: Annotated[str, typer.Option(help="Deadline to connect.")] = "10s",
    read_timeout: Annotated[str, typer.Option(help="Deadline for silence before/between chunks.")] = "60s",
    request_timeout: Annotated[str, typer.Option(help="Deadline for a whole request.")] = "600s",
    drain: Annotated[float, typer.Option(help="Seconds in-flight requests may finish after the stop.", min=0)] = 60,
    seed: Annotated[int, typer.Option(help="Seed of prompts and arrivals.")] = 0,
    out: OUT = None,
    name: Annotated[str | None, typer.Option(help="Display name of the run in reports.")] = None,
) -> None:
    """Run a load test: one point per concurrency or rate, with per-request records and a report."""
    from mlway.bench.config import BenchConfig  # noqa: PLC0415
    from mlway.bench.progress import LiveProgress  # noqa: PLC0415
    from mlway.bench.runner import run_bench  # noqa: PLC0415

    if force_output not in ("auto", "ignore_eos", "logit_bias", "none"):
        raise InputError(f"invalid --force-output {force_output!r}", hint="choose auto, ignore_eos, logit_bias or none")
    fields = _common(
        endpoint=endpoint, duration=duration, output_tokens=output_tokens, extra_body=extra_body, out=out,
        connect_timeout=connect_timeout, read_timeout=read_timeout, request_timeout=request_timeout,
    )  # fmt: skip
    if requests is None and fields["duration"] is None:
        requests = 100
    config = BenchConfig(
        url=url, model=model, stream=stream, api_key=api_key,
        loads=_loads(concurrency, rate, arrival, burstiness, max_concurrency),
        requests=requests, warmup=warmup, think_time=think_time, drain=drain,
        input_tokens=input_tokens, dataset=dataset, shared_prefix_tokens=shared_prefix, salt=salt,
        tokenizer=tokenizer, force_output=force_output, eos_token_id=eos_token_id,  # type: ignore[arg-type]
        slo=slo, seed=seed, name=name, **fields,
    )  # fmt: skip
    result = run_bench(config, LiveProgress(console))
    _finish(result, config.out)


@app.command("slo")
def slo_search(
    url: URL,
    model: MODEL = None,
    ttft_p95: Annotated[str | None, typer.Option(help="Limit on p95 time to first token, e.g. 1s.")] = None,
    tpot_p95: Annotated[str | None, typer.Option(help="Limit on p95 time per output token, e.g. 50ms.")] = None,
    e2e_p95: Annotated[str | None, typer.Option(help="Limit on p95 end-to-end latency.")] = None,
    slo: Annotated[str | None, typer.Option(help="Any limits: ttft_p99=2s,itl_p95=80ms (added to the above).")] = None,
    mode: Annotated[str, typer.Option(help="Search the request 'rate' or the 'concurrency'.")] = "rate",
    start: Annotated[float, typer.Option(help="First load tried.", min=0.001)] = 1.0,
    maximum: Annotated[float, typer.Option("--max", help="Highest load tried.", min=0.001)] = 512.0,
    trials: Annotated[int, typer.Option(help="Most trials (each a real run).", min=2)] = 8,
    requests: REQUESTS = None,
    duration: DURATION = None,
    warmup: WARMUP = None,
    input_tokens: INPUT = "512",
    output_tokens: OUTPUT = "128",
    endpoint: ENDPOINT = "completions",
    stream: STREAM = True,
    dataset: DATASET = None,
    tokenizer: TOKENIZER = None,
    api_key: API_KEY = None,
    connect_timeout: Annotated[str, typer.Option(help="Deadline to connect.")] = "10s",
    read_timeout: Annotated[str, typer.Option(help="Deadline for silence before/between chunks.")] = "60s",
    request_timeout: Annotated[str, typer.Option(help="Deadline for a whole request.")] = "120s",
    drain: Annotated[float, typer.Option(help="Seconds in-flight requests may finish after each trial.", min=0)] = 30,
    seed: Annotated[int, typer.Option(help="Seed of prompts and arrivals.")] = 0,
    out: OUT = None,
) -> None:
    """Find the highest request rate (or concurrency) that meets an SLO, trial by trial."""
    from mlway.bench.config import BenchConfig  # noqa: PLC0415
    from mlway.bench.progress import LiveProgress  # noqa: PLC0415
    from mlway.bench.report.console import render_search  # noqa: PLC0415
    from mlway.bench.runner import run_bench  # noqa: PLC0415
    from mlway.bench.search import SloSearch  # noqa: PLC0415

    limits = [f"{k}={v}" for k, v in (("ttft_p95", ttft_p95), ("tpot_p95", tpot_p95), ("e2e_p95", e2e_p95)) if v]
    spec = ",".join(limits + ([slo] if slo else []))
    if not spec:
        raise InputError("no SLO given", hint="pass --ttft-p95 1s and/or --tpot-p95 50ms (or --slo ...)")
    if mode not in ("rate", "concurrency"):
        raise InputError(f"invalid --mode {mode!r}", hint="choose rate or concurrency")
    fields = _common(
        endpoint=endpoint, duration=duration, output_tokens=output_tokens, extra_body=None, out=out,
        connect_timeout=connect_timeout, read_timeout=read_timeout, request_timeout=request_timeout,
    )  # fmt: skip
    if requests is None and fields["duration"] is None:
        requests = 100
    search = SloSearch(mode=mode, slo=spec, start=start, maximum=maximum, max_trials=trials)  # type: ignore[arg-type]
    config = BenchConfig(
        url=url, model=model, stream=stream, api_key=api_key, loads=[search.first_load()], requests=requests,
        warmup=warmup, drain=drain, input_tokens=input_tokens, dataset=dataset, tokenizer=tokenizer, slo=spec,
        seed=seed, **fields,
    )  # fmt: skip
    result = run_bench(config, LiveProgress(console), search)
    result.search = search.summary()
    from mlway.bench.report.files import write_run_files  # noqa: PLC0415

    write_run_files(config.out, result, html=True)
    _finish(result, config.out)
    render_search(console, result.search)


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run directories written by 'mlway bench run'.")],
    html: Annotated[Path | None, typer.Option(help="Also write an HTML comparison with plots here.")] = None,
) -> None:
    """Side-by-side table (and plots) of several runs: throughput, TTFT, latency at each load."""
    from mlway.bench.compare import compare_runs, render_comparison, write_comparison_html  # noqa: PLC0415

    comparison = compare_runs(runs)
    render_comparison(console, comparison)
    if html is not None:
        write_comparison_html(comparison, html)
        console.print(f"comparison written to {html}", highlight=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/demo"),
    requests: Annotated[int, typer.Option(help="Measured requests per load point.", min=1)] = 64,
) -> None:
    """Start mlway's simulated LLM server and benchmark it at 1, 8 and 32 users (no GPU needed)."""
    from mlway.bench.config import BenchConfig  # noqa: PLC0415
    from mlway.bench.progress import LiveProgress  # noqa: PLC0415
    from mlway.bench.runner import run_bench  # noqa: PLC0415
    from mlway.bench.simserver import SimServerConfig, spawn_sim_server  # noqa: PLC0415
    from mlway.bench.summary import LoadSpec  # noqa: PLC0415

    sim = SimServerConfig(ttft=0.05, itl=0.01, max_batch=16, batch_slowdown=0.03)
    console.print(
        "simulated server: TTFT 50 ms, ITL 10 ms, 16 batch slots, +3% step time per extra sequence", highlight=False
    )
    with spawn_sim_server(sim) as url:
        config = BenchConfig(
            url=url, loads=[LoadSpec(mode="concurrency", concurrency=c) for c in (1, 8, 32)],
            requests=requests, input_tokens="256", output_tokens="64", slo="ttft_p95=500ms,tpot_p95=30ms",
            out=out, name="mlway-sim",
        )  # fmt: skip
        result = run_bench(config, LiveProgress(console))
    _finish(result, out)
