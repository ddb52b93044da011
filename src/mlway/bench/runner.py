"""Runs a bench: preflight, prompt calibration, each load point, then the results on disk.

The composition root of a run. Order: check the server answers (clear error within the connect
timeout), load the tokenizer, calibrate prompt sizes from the server's usage when there is no
tokenizer, probe /metrics, then per point: stream records to disk while sampling server gauges,
summarise, and rewrite run.json (so an interrupted run keeps what it measured).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from mlway import __version__
from mlway.bench.config import BenchConfig
from mlway.bench.drivers import Stop, drive
from mlway.bench.lengths import LengthDist
from mlway.bench.progress import Progress, SilentProgress
from mlway.bench.records import RecordWriter, RequestRecord, read_records
from mlway.bench.report.files import write_run_files
from mlway.bench.server_metrics import ServerMetricsSampler
from mlway.bench.slo import SloSpec
from mlway.bench.stats import FORMULAS, summarize
from mlway.bench.summary import LoadSpec, PointSummary, RunResult
from mlway.bench.target import OpenAITarget, TargetSpec, Timeouts, list_models
from mlway.bench.tokenizer import Tokenizer
from mlway.bench.workload import Prompt, PromptFactory
from mlway.core.errors import InputError

log = logging.getLogger(__name__)
T = TypeVar("T")
NextLoad = Callable[[list[PointSummary]], LoadSpec | None]


class BenchRun:
    """One ``mlway bench run``: ``await execute()``, or :func:`run_bench` to block."""

    def __init__(self, config: BenchConfig, progress: Progress | None = None) -> None:
        if config.requests is None and config.duration is None:
            raise InputError("a run needs a stop condition", hint="pass --requests N and/or --duration 60s")
        self.config = config
        self.progress = progress or SilentProgress()
        self.halt = asyncio.Event()
        self.slo = SloSpec.parse(config.slo) if config.slo else None
        self.timeouts = Timeouts(config.connect_timeout, config.read_timeout, config.request_timeout)

    async def execute(self, next_load: NextLoad | None = None) -> RunResult:
        """Run the configured loads in order, or those ``next_load`` picks after each point (a search)."""
        cfg = self.config
        if next_load is None:
            sweep = iter(cfg.loads)
            next_load = lambda _points: next(sweep, None)  # noqa: E731
        models = await list_models(cfg.url, api_key=cfg.api_key, timeouts=self.timeouts)
        model = self._choose_model(models)
        tokenizer = Tokenizer(cfg.tokenizer) if cfg.tokenizer else None
        eos = cfg.eos_token_id if cfg.eos_token_id is not None else (tokenizer.eos_token_id if tokenizer else None)
        spec = TargetSpec(
            base_url=cfg.url, model=model, endpoint=cfg.endpoint, stream=cfg.stream, api_key=cfg.api_key,
            force_output=cfg.force_output, eos_token_id=eos, extra_body=cfg.extra_body, timeouts=self.timeouts,
        )  # fmt: skip
        factory = PromptFactory(
            endpoint=cfg.endpoint,
            input_tokens=LengthDist.parse(cfg.input_tokens, what="--input-tokens"),
            output_tokens=LengthDist.parse(cfg.output_tokens, what="--output-tokens") if cfg.output_tokens else None,
            seed=cfg.seed, tokenizer=tokenizer, dataset=cfg.dataset,
            shared_prefix_tokens=cfg.shared_prefix_tokens, salt=cfg.salt,
        )  # fmt: skip
        result = RunResult(
            name=cfg.name or cfg.out.name,
            started_at=datetime.now(UTC).isoformat(),
            config=cfg.model_dump(mode="json", exclude={"api_key"}) | {"model": model},
            environment=_environment(models),
            formulas=dict(FORMULAS),
        )
        async with OpenAITarget(spec, tokenizer=tokenizer) as target:
            if tokenizer is None and cfg.dataset is None and cfg.endpoint != "embeddings":
                await self._calibrate(target, factory)
            factory.prepare()
            sampler = ServerMetricsSampler(cfg.url, interval=cfg.metrics_interval)
            await sampler.probe(target.session)
            prompts = iter(factory)
            with _graceful_interrupt(self.halt):
                while not self.halt.is_set() and (load := next_load(result.points)) is not None:
                    point = await self._run_point(load, target, prompts, sampler)
                    result.points.append(point)
                    result.interrupted = self.halt.is_set()
                    write_run_files(cfg.out, result, html=False)
        result.interrupted = self.halt.is_set()
        result.finished_at = datetime.now(UTC).isoformat()
        write_run_files(cfg.out, result, html=True)
        return result

    def _choose_model(self, models: list[dict[str, Any]]) -> str:
        ids = [str(m.get("id")) for m in models if m.get("id")]
        if self.config.model is None:
            if not ids:
                raise InputError(f"the server at {self.config.url} lists no models", hint="pass --model NAME")
            return ids[0]
        if ids and self.config.model not in ids:
            log.warning("model %r is not in the server's list %s; sending it anyway", self.config.model, ids)
        return self.config.model

    async def _calibrate(self, target: OpenAITarget, factory: PromptFactory) -> None:
        """Learn the server's tokens per word from two probe prompts' reported prompt_tokens."""
        counts = []
        for words in (16, 144):
            text = " ".join(["field"] * words)
            messages = [{"role": "user", "content": text}] if factory.endpoint == "chat" else None
            record = RequestRecord(index=-1, warmup=True, scheduled_at=0.0)
            await target.send(Prompt(text, messages, None, 1), record, time.perf_counter())
            if record.error_kind or record.prompt_tokens is None:
                self.progress.note(
                    "[yellow]warning:[/] the server reported no prompt_tokens, so prompt sizes assume one token "
                    "per word; pass --tokenizer DIR for exact input lengths"
                )
                return
            counts.append(record.prompt_tokens)
        per_word = max((counts[1] - counts[0]) / 128, 0.05)
        factory.calibration.per_word = per_word
        factory.calibration.overhead = max(round(counts[0] - 16 * per_word), 0)
        factory.calibration.measured = True
        log.info("calibrated %.3f tokens/word, %d overhead tokens", per_word, factory.calibration.overhead)

    async def _run_point(
        self, load: LoadSpec, target: OpenAITarget, prompts: Iterator[Prompt], sampler: ServerMetricsSampler
    ) -> PointSummary:
        cfg = self.config
        warmup = cfg.warmup_for(load)
        total = cfg.requests + warmup if cfg.requests is not None else None
        rel_path = f"points/{load.label}/requests.jsonl"
        path = cfg.out / rel_path
        self.progress.start_point(load.label, total, cfg.duration)
        zero = time.perf_counter()
        send = target.send
        report = self.progress.record

        with RecordWriter(path) as writer:

            async def issue(index: int, scheduled_at: float, prompt: Prompt) -> None:
                record = RequestRecord(index=index, warmup=index < warmup, scheduled_at=scheduled_at)
                try:
                    await send(prompt, record, zero)
                finally:
                    writer.write(record)
                    report(record)

            sampler.start(target.session, zero)
            try:
                await drive(
                    load, Stop(total, cfg.duration, cfg.drain), issue, prepare=lambda _index: next(prompts),
                    clock_zero=zero, halt=self.halt,
                    think_time=cfg.think_time, seed=cfg.seed,
                )  # fmt: skip
            finally:
                samples = await sampler.stop()
                self.progress.end_point()
        return summarize(
            read_records(path), load=load, label=load.label, records_path=rel_path, slo=self.slo,
            target_rate=load.rate, server_samples=samples,
        )  # fmt: skip


@contextlib.contextmanager
def _graceful_interrupt(event: asyncio.Event) -> Iterator[None]:
    """The first Ctrl-C stops the run gracefully (partial results are written); the second is immediate."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        event.set()
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, first)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _environment(models: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mlway": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "aiohttp": aiohttp.__version__,
        "server_models": models,
    }


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (a faster client), else asyncio."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_bench(config: BenchConfig, progress: Progress | None = None, next_load: NextLoad | None = None) -> RunResult:
    """Run a bench to completion (blocking) and return its result; files are in ``config.out``."""
    return run_async(BenchRun(config, progress).execute(next_load))
