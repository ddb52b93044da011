"""``mlway bench sim-server``: serve the simulated OpenAI-compatible LLM server until Ctrl-C.

The defaults here equal :class:`SimServerConfig`'s (a test pins that); the server package is
imported only when the command runs, so ``mlway --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mlway.core.units import format_duration, parse_duration

if TYPE_CHECKING:
    from mlway.bench.simserver import SimServerConfig

OPTION_NAMES = {
    "model": "--model",
    "ttft": "--ttft",
    "itl": "--itl",
    "prefill_per_token": "--prefill-per-token",
    "max_batch": "--max-batch",
    "batch_slowdown": "--batch-slowdown",
    "kv_cache_tokens": "--kv-cache-tokens",
    "default_max_tokens": "--default-max-tokens",
    "eos_probability": "--eos-probability",
    "tokens_per_chunk": "--tokens-per-chunk",
    "fail_rate": "--fail-rate",
    "failure_kinds": "--fail-kinds",
    "seed": "--seed",
    "api_key": "--api-key",
    "embedding_dim": "--embedding-dim",
    "precise_timing": "--precise-timing",
}
"""SimServerConfig field -> the option that sets it, so config errors name what the user typed."""

_ALL_KINDS = "http_500,http_429,malformed_sse,disconnect,error_event"


def sim_server_config(
    *,
    model: str = "mlway-sim",
    ttft: str = "50ms",
    itl: str = "10ms",
    prefill_per_token: str = "0",  # noqa: S107 - a duration, not a secret
    max_batch: int = 64,
    batch_slowdown: float = 0.0,
    kv_cache_tokens: int = 131_072,
    default_max_tokens: int = 256,
    eos_probability: float = 0.0,
    tokens_per_chunk: int = 1,
    fail_rate: float = 0.0,
    fail_kinds: str = _ALL_KINDS,
    seed: int = 0,
    api_key: str | None = None,
    embedding_dim: int = 384,
    precise_timing: bool = True,
) -> SimServerConfig:
    """The config the command line describes; bad values raise an InputError naming the option."""
    from mlway.bench.simserver import validate_config  # noqa: PLC0415 - keeps the CLI start fast

    data = {
        "model": model,
        "ttft": parse_duration(ttft, what="--ttft"),
        "itl": parse_duration(itl, what="--itl"),
        "prefill_per_token": parse_duration(prefill_per_token, what="--prefill-per-token"),
        "max_batch": max_batch,
        "batch_slowdown": batch_slowdown,
        "kv_cache_tokens": kv_cache_tokens,
        "default_max_tokens": default_max_tokens,
        "eos_probability": eos_probability,
        "tokens_per_chunk": tokens_per_chunk,
        "fail_rate": fail_rate,
        "failure_kinds": [kind.strip() for kind in fail_kinds.split(",") if kind.strip()],
        "seed": seed,
        "api_key": api_key,
        "embedding_dim": embedding_dim,
        "precise_timing": precise_timing,
    }
    return validate_config(data, names=OPTION_NAMES)


def sim_server(
    ttft: Annotated[str, typer.Option(help="Time to first token once admitted, e.g. 50ms; 0 for none.")] = "50ms",
    itl: Annotated[str, typer.Option(help="Time between tokens of one sequence at batch size 1, e.g. 10ms.")] = "10ms",
    prefill_per_token: Annotated[str, typer.Option(help="Extra TTFT per prompt token, e.g. 0.1ms.")] = "0",  # noqa: S107
    max_batch: Annotated[int, typer.Option(help="Sequences generated at once; 1 queues requests like llama.cpp.")] = 64,
    batch_slowdown: Annotated[
        float, typer.Option(help="Step-time growth per extra running sequence (0.03 = +3% each).")
    ] = 0.0,
    kv_cache_tokens: Annotated[
        int, typer.Option(help="KV-cache capacity in tokens (admission, usage gauge).")
    ] = 131_072,
    default_max_tokens: Annotated[int, typer.Option(help="Output tokens when a request sets no max_tokens.")] = 256,
    eos_probability: Annotated[
        float, typer.Option(help="Chance per token of stopping early without ignore_eos (seeded).")
    ] = 0.0,
    tokens_per_chunk: Annotated[int, typer.Option(help="Tokens per streamed chunk.")] = 1,
    fail_rate: Annotated[float, typer.Option(help="Fraction of generation requests that fail (0..1).")] = 0.0,
    fail_kinds: Annotated[str, typer.Option(help="Comma-separated failure kinds to draw from.")] = _ALL_KINDS,
    model: Annotated[str, typer.Option(help="Model name served (requests naming another get 404).")] = "mlway-sim",
    seed: Annotated[int, typer.Option(help="Seed of output lengths and failures.")] = 0,
    api_key: Annotated[
        str | None, typer.Option(envvar="MLWAY_SIM_API_KEY", help="Require 'Authorization: Bearer KEY' on /v1.")
    ] = None,
    embedding_dim: Annotated[int, typer.Option(help="Length of /v1/embeddings vectors.")] = 384,
    precise_timing: Annotated[
        bool, typer.Option("--precise-timing/--coarse-timing", help="Spin the last ms before deadlines.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8000,
) -> None:
    """Serve a simulated OpenAI-compatible LLM (no GPU): known TTFT, ITL, batching and failures."""
    config = sim_server_config(
        model=model,
        ttft=ttft,
        itl=itl,
        prefill_per_token=prefill_per_token,
        max_batch=max_batch,
        batch_slowdown=batch_slowdown,
        kv_cache_tokens=kv_cache_tokens,
        default_max_tokens=default_max_tokens,
        eos_probability=eos_probability,
        tokens_per_chunk=tokens_per_chunk,
        fail_rate=fail_rate,
        fail_kinds=fail_kinds,
        seed=seed,
        api_key=api_key,
        embedding_dim=embedding_dim,
        precise_timing=precise_timing,
    )
    from mlway.bench.simserver import run_sim_server  # noqa: PLC0415 - keeps the CLI start fast

    console = Console()

    def ready(url: str) -> None:
        mode = "capacity mode: no delays" if config.capacity_mode else _timing(config)
        console.print(f"serving {config.model!r} at [bold]{url}[/] ({mode}); Ctrl-C stops", highlight=False)

    run_sim_server(config, host, port, on_ready=ready)


def _timing(config: SimServerConfig) -> str:
    return f"TTFT {format_duration(config.ttft)}, ITL {format_duration(config.itl)}, {config.max_batch} batch slots"
