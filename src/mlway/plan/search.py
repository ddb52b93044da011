"""The recommendation: search GPU type x TP x quantization x replicas, rank by cost.

For each combination: the engine's memory model decides whether it fits and how many sequences
one replica can batch; the timing and queueing models find the most load one replica serves
within every SLO; the replicas follow, then the cost. Combinations that fail keep the constraint
that binds (does not fit, TTFT, TPOT, E2E, cost).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.plan.catalog import Catalog
from mlway.plan.deployment import Deployment
from mlway.plan.diagnosis import diagnose
from mlway.plan.engines import Engine, get_engine
from mlway.plan.factors import DEFAULT_FACTORS, Factors, load_profile
from mlway.plan.gpus import GpuSpec
from mlway.plan.knobs import EngineKnobs
from mlway.plan.memory import MemoryBreakdown, kv_bytes_per_sequence
from mlway.plan.modelspec import ModelSpec
from mlway.plan.perf import StepModel
from mlway.plan.quant import QuantScheme, get_scheme, native_scheme
from mlway.plan.queueing import PERCENTILES, LoadResult, Replica, Request
from mlway.plan.recommendation import Band, Option, Plan, Rejected, RejectKind
from mlway.plan.workload import Workload

AUTO_QUANTS = ("bf16", "fp8", "awq-int4")
AUTO_QUANTS_GGUF = ("gguf-q4_k_m", "gguf-q8_0")


class PlanRequest(StrictModel):
    """What to search over."""

    workload: Workload
    gpus: list[str] | None = Field(default=None, description="GPU names; None = the whole catalog")
    quants: list[str] | None = Field(default=None, description="schemes; None = native, fp8, awq-int4")
    tps: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], description="tensor-parallel sizes")
    engine: str = "vllm"
    knobs: EngineKnobs = Field(default_factory=EngineKnobs)
    max_gpus: int = Field(default=64, ge=1, description="most GPUs an option may use")
    budget_per_hour: float | None = Field(default=None, gt=0, description="most USD per hour")
    max_utilization: float = Field(
        default=0.85, gt=0, le=1, description="most of a replica's capacity the load may use (headroom for bursts)"
    )
    top: int = Field(default=5, ge=1, description="options to show")


def request_shape(workload: Workload) -> Request:
    out = workload.output_tokens
    return Request(
        prompt=workload.input_tokens.mean,
        output=out.mean,
        prompt_q={p: workload.input_tokens.quantile(p) for p in PERCENTILES},
        output_q={p: out.quantile(p) for p in PERCENTILES},
    )


def unsupported(dep: Deployment, engine: Engine) -> str | None:
    """Why a deployment cannot run at all, or None."""
    model, gpu, tp, scheme = dep.model, dep.gpu, dep.tp, dep.scheme
    if tp > gpu.max_per_node:
        return f"TP {tp} needs {tp} GPUs in one server; a {gpu.name} server holds {gpu.max_per_node}"
    if model.num_heads % tp:
        return f"{model.num_heads} attention heads do not split over TP {tp}"
    if model.num_kv_heads % tp and tp % model.num_kv_heads:
        return f"{model.num_kv_heads} KV heads do not split over TP {tp}"
    if scheme.compute == "fp8" and not gpu.supports_fp8 and gpu.arch != "ampere":
        return f"FP8 needs Ampere (weight-only) or Ada/Hopper; {gpu.name} is {gpu.arch}"
    return engine.supports(dep)


def batch_limit(dep: Deployment, engine: Engine, mem: MemoryBreakdown, req: Request) -> int:
    """Sequences one replica holds at once: max_num_seqs, and the KV cache at the average length."""
    if engine.fixed_slots:
        return mem.max_num_seqs
    held = req.prompt + (req.output if engine.full_kv_reservation else req.output / 2)
    per_seq = kv_bytes_per_sequence(dep.model, dep.tp, dep.kv_element_bytes, max(int(held), 1))
    by_kv = int(mem.kv_cache // per_seq) if per_seq else mem.max_num_seqs
    return max(min(mem.max_num_seqs, by_kv), 0)


def _check(result: LoadResult, workload: Workload) -> tuple[float, str]:
    """Smallest headroom over the SLOs (limit / value - 1) and the SLO it belongs to."""
    worst, key = math.inf, "none"
    for target in workload.slo:
        value = result.value(target.metric, target.percentile)
        room = target.seconds / value - 1 if value > 0 else math.inf
        if room < worst:
            worst, key = room, target.key
    return worst, key


def _largest(passes: Callable[[float], bool], low: float, high: float, *, integer: bool) -> float:
    """The largest x in [low, high] with passes(x), assuming passes(low) and monotony."""
    if passes(high):
        return high
    for _ in range(40):
        if (integer and high - low <= 1) or (not integer and high - low <= 1e-3 * high):
            break
        mid = math.floor((low + high) / 2) if integer else (low + high) / 2
        low, high = (mid, high) if passes(mid) else (low, mid)
    return low


def _why_not(result: LoadResult, wl: Workload, cap: float) -> str:
    """Why a smaller deployment fails at the load: saturation, the utilization headroom, or an SLO."""
    if result.saturated:
        return result.explanation
    room, key = _check(result, wl)
    if room < 0:
        metric, pct = key.split("_")
        value = result.value(metric, pct)
        shown = "grows without bound" if math.isinf(value) else f"~{value:.3g} s"
        return f"{result.explanation}; {metric.upper()} {pct} {shown}, over its limit"
    return f"{result.explanation}, above the {cap:.0%} utilization kept for bursts"


@dataclass
class Candidate:
    """A deployment that fits, with its timing model and the batch one replica holds."""

    dep: Deployment
    mem: MemoryBreakdown
    replica: Replica
    limit: int
    factors: Factors
    calibrated: bool

    def reject(self, kind: RejectKind, reason: str, **extra: float | int | None) -> Rejected:
        return Rejected(gpu=self.dep.gpu.name, tp=self.dep.tp, quant=self.dep.scheme.name, kind=kind, reason=reason,
                        **extra)  # type: ignore[arg-type]  # fmt: skip


class Evaluator:
    """Evaluates deployments of one model for one workload and engine."""

    def __init__(self, model: ModelSpec, request: PlanRequest, catalog: Catalog) -> None:
        self.model, self.request, self.catalog = model, request, catalog
        self.workload = request.workload
        self.engine = get_engine(request.engine)
        self.req = request_shape(self.workload)

    def factors(self, gpu: GpuSpec) -> tuple[Factors, bool]:
        profile = load_profile(self.catalog.directory, gpu.name, self.engine.name)
        return (profile.factors, True) if profile else (DEFAULT_FACTORS, False)

    def evaluate(self, gpu: GpuSpec, tp: int, scheme: QuantScheme) -> Option | Rejected:
        dep = Deployment(self.model, scheme, gpu, tp, self.request.knobs)
        reason = unsupported(dep, self.engine)
        if reason:
            return Rejected(gpu=gpu.name, tp=tp, quant=scheme.name, kind="unsupported", reason=reason)
        mem = self.engine.memory(dep, self.workload.context)
        if not mem.fits:
            return Rejected(gpu=gpu.name, tp=tp, quant=scheme.name, kind="does not fit",
                            reason=mem.reason or "does not fit", max_context=mem.max_len_that_fits)  # fmt: skip
        limit = batch_limit(dep, self.engine, mem, self.req)
        if limit < 1:
            return Rejected(gpu=gpu.name, tp=tp, quant=scheme.name, kind="does not fit",
                            reason="the KV cache cannot hold one average request",
                            max_context=mem.max_len_that_fits)  # fmt: skip
        factors, calibrated = self.factors(gpu)
        replica = Replica(StepModel(dep, self.engine, factors), self.req, limit, mem.max_num_batched_tokens)
        cand = Candidate(dep, mem, replica, limit, factors, calibrated)
        single = replica.at_users(1)
        room, key = _check(single, self.workload)
        if room < 0:
            metric, pct = key.split("_")
            target = next(t for t in self.workload.slo if t.key == key)
            value = single.value(metric, pct)
            return cand.reject(
                metric.upper(),  # type: ignore[arg-type]
                f"even one request alone: {metric.upper()} {pct} {value:.3g} s > {target.seconds:g} s",
                value=value, limit=target.seconds,
            )  # fmt: skip
        return self._size(cand)

    def _size(self, cand: Candidate) -> Option | Rejected:
        wl, replica, cap = self.workload, cand.replica, self.request.max_utilization

        def ok(result: LoadResult) -> bool:
            return not result.saturated and result.utilization <= cap and _check(result, wl)[0] >= 0

        undersized: LoadResult | None = None
        if wl.rps is not None:
            top_n = _largest(lambda n: ok(replica.at_concurrency(n)), 1e-3, cand.limit * 0.999, integer=False)
            per_replica = replica.at_concurrency(top_n).request_rate
            replicas = max(1, math.ceil(wl.rps / per_replica - 1e-9))
            result = replica.at_rate(wl.rps / replicas, wl.test_duration)
            if replicas > 1:
                undersized = replica.at_rate(wl.rps / (replicas - 1), wl.test_duration)
        else:
            users = float(wl.users or 1)
            ceiling = max(users, 2.0 * cand.limit)
            per_replica = _largest(lambda u: ok(replica.at_users(u, wl.think_time)), 1, ceiling, integer=True)
            replicas = max(1, math.ceil(users / per_replica - 1e-9))
            result = replica.at_users(math.ceil(users / replicas), wl.think_time)
            if replicas > 1:
                undersized = replica.at_users(math.ceil(users / (replicas - 1)), wl.think_time)
        if undersized is not None:
            result.explanation += f". With {replicas - 1} replica{'s' if replicas > 2 else ''}: " + _why_not(
                undersized, wl, cap
            )
        gpus = replicas * cand.dep.tp
        cost = gpus * cand.dep.gpu.price.usd_per_hour
        over_gpus = gpus > self.request.max_gpus
        if over_gpus or (self.request.budget_per_hour and cost > self.request.budget_per_hour):
            over = f"--max-gpus {self.request.max_gpus}" if over_gpus else f"--budget {self.request.budget_per_hour:g}"
            return cand.reject("cost", f"needs {replicas} replicas = {gpus} GPUs, ${cost:,.2f}/h (over {over})",
                               replicas=replicas)  # fmt: skip
        return self._option(cand, result, replicas, per_replica)

    def _option(self, cand: Candidate, result: LoadResult, replicas: int, per_replica: float) -> Option:
        wl, u, dep = self.workload, cand.factors.uncertainty, cand.dep
        room, key = _check(result, wl)
        marginal = any(result.value(t.metric, t.percentile) * (1 + u) > t.seconds for t in wl.slo)
        tokens = result.output_rate if self.req.output > 0 else result.request_rate * self.req.prompt
        per_hour = replicas * dep.tp * dep.gpu.price.usd_per_hour
        load = wl.rps / replicas if wl.rps is not None else math.ceil((wl.users or 1) / replicas)
        return Option(
            gpu=dep.gpu.name, tp=dep.tp, replicas=replicas, gpus=replicas * dep.tp, quant=dep.scheme.name,
            kv_dtype=cand.mem.kv_dtype, engine=self.engine.name, cost_per_hour=per_hour,
            cost_per_million_tokens=per_hour / (tokens * replicas * 3600 / 1e6) if tokens > 0 else math.inf,
            price_date=dep.gpu.price.date, memory=cand.mem, batch_limit=cand.limit, load_per_replica=load,
            max_load_per_replica=per_replica,
            ttft={p: Band.around(v, u) for p, v in result.ttft.items()},
            tpot={p: Band.around(v, u) for p, v in result.tpot.items()},
            e2e={p: Band.around(v, u) for p, v in result.e2e.items()},
            output_tokens_per_s=Band.around(tokens * replicas, u),
            capacity_rps=Band.around(result.capacity_rps * replicas, u),
            utilization=result.utilization, headroom=room, binding=key, marginal=marginal,
            calibrated=cand.calibrated, engine_command=self.engine.command(dep, cand.mem),
            bench_command=bench_command(dep, wl, replicas), explanation=result.explanation,
        )  # fmt: skip


def bench_command(dep: Deployment, wl: Workload, replicas: int) -> str:
    """The ``mlway bench`` command that checks one replica of an option at its share of the load."""
    parts = ["mlway bench run --url http://HOST:8000/v1", f"--model {dep.model.hf_id or dep.model.name}"]
    if wl.rps is not None:
        parts += [f"--rate {wl.rps / replicas:.3g}", "--arrival poisson", f"--duration {wl.test_duration:.0f}s"]
    else:
        parts += [f"--concurrency {math.ceil((wl.users or 1) / replicas)}", "--requests 500"]
    parts += [f"--input-tokens {wl.input_tokens}", f"--output-tokens {wl.output_tokens}"]
    if wl.slo:
        parts.append("--slo " + ",".join(f"{t.key}={t.seconds * 1000:g}ms" for t in wl.slo))
    parts.append(f"--out runs/{dep.gpu.name}-tp{dep.tp}-{dep.scheme.name}")
    return " ".join(parts)


def schemes_for(model: ModelSpec, request: PlanRequest, engine: Engine) -> list[QuantScheme]:
    if request.quants:
        return [get_scheme(q) for q in request.quants]
    if model.quantization is not None:
        return [native_scheme(model)]
    names = AUTO_QUANTS_GGUF if engine.name == "llama.cpp" else AUTO_QUANTS
    return [get_scheme(n) for n in names]


def recommend(model: ModelSpec, request: PlanRequest, catalog: Catalog) -> Plan:
    """Search every combination and rank the ones that meet the SLOs by cost."""
    started = time.perf_counter()
    evaluator = Evaluator(model, request, catalog)
    gpus = [catalog.gpu(g) for g in request.gpus] if request.gpus else list(catalog.gpus.values())
    options: list[Option] = []
    rejected: list[Rejected] = []
    searched = 0
    for gpu in gpus:
        for scheme in schemes_for(model, request, evaluator.engine):
            for tp in sorted(set(request.tps)):
                searched += 1
                outcome = evaluator.evaluate(gpu, tp, scheme)
                (options if isinstance(outcome, Option) else rejected).append(outcome)  # type: ignore[arg-type]
    options.sort(key=lambda o: (o.cost_per_hour, o.cost_per_million_tokens, o.ttft["p95"].mid))
    for rank, option in enumerate(options, start=1):
        option.rank = rank
    return Plan(
        model=model.name,
        params_b=model.total_params / 1e9,
        engine=evaluator.engine.name,
        workload=request.workload,
        options=options,
        rejected=rejected,
        diagnosis=None if options else diagnose(request.workload, rejected),
        searched=searched,
        elapsed_s=time.perf_counter() - started,
    )
