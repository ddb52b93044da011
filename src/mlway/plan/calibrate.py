"""Fit the efficiency factors of a (GPU, engine) pair from ``mlway bench`` results.

Each bench load point is replayed through the same timing and queueing models a plan uses
(closed loop at its concurrency, or open loop at its rate). A compass search in log space finds
the compute efficiency, the memory efficiency, the per-layer step overhead and the per-request
overhead off the GPU (HTTP, tokenization: it adds to TTFT only) that minimise the
squared log error of TTFT p50, TPOT p50 and output tokens per second over all points. The
profile is stored in the user catalog; later plans for the same GPU and engine use it, with a
band as wide as the fit's remaining error.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from mlway.core.errors import InputError
from mlway.plan.benchfiles import Observation, model_of, observations, read_run, run_files
from mlway.plan.catalog import Catalog
from mlway.plan.deployment import Deployment
from mlway.plan.engines import Engine, get_engine
from mlway.plan.factors import DEFAULT_FACTORS, Factors, Profile, save_profile
from mlway.plan.knobs import EngineKnobs
from mlway.plan.perf import StepModel
from mlway.plan.quant import get_scheme, native_scheme
from mlway.plan.queueing import Replica, Request
from mlway.plan.search import batch_limit

_BOUNDS = {
    "compute_eff": (0.02, 1.0),
    "low_precision_eff": (0.02, 1.0),
    "memory_eff": (0.02, 1.0),
    "layer_overhead_s": (1e-7, 5e-3),
    "request_overhead_s": (1e-5, 2.0),
}


@dataclass(frozen=True)
class Setup:
    """What the bench runs were made on."""

    dep: Deployment
    engine: Engine

    @property
    def compute_param(self) -> str:
        scheme, gpu = self.dep.scheme, self.dep.gpu
        low = scheme.compute in ("fp8", "int8") and (scheme.compute != "fp8" or gpu.supports_fp8)
        return "low_precision_eff" if low else "compute_eff"


@dataclass
class Row:
    """One load point: observed, and predicted before and after the fit."""

    label: str
    observed: dict[str, float]
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)


@dataclass
class Calibration:
    profile: Profile
    path: Path
    rows: list[Row]


def predict(setup: Setup, factors: Factors, obs: Observation) -> dict[str, float]:
    """TTFT p50, TPOT p50 and output tokens/s the plan's models give for one bench point."""
    context = int(obs.prompt_tokens + obs.output_tokens) + 1
    mem = setup.engine.memory(setup.dep, context)
    req = Request(
        prompt=obs.prompt_tokens, output=obs.output_tokens,
        prompt_q=dict.fromkeys(("p50", "p95", "p99"), obs.prompt_tokens),
        output_q=dict.fromkeys(("p50", "p95", "p99"), obs.output_tokens),
    )  # fmt: skip
    limit = max(batch_limit(setup.dep, setup.engine, mem, req), 1)
    replica = Replica(StepModel(setup.dep, setup.engine, factors), req, limit, mem.max_num_batched_tokens)
    result = replica.at_users(obs.load) if obs.mode == "concurrency" else replica.at_rate(obs.load, obs.duration)
    return {"ttft": result.ttft["p50"], "tpot": result.tpot["p50"], "rate": result.output_rate}


def _observed(obs: Observation) -> dict[str, float]:
    out = {"rate": obs.output_token_rate}
    if obs.ttft_p50:
        out["ttft"] = obs.ttft_p50
    if obs.tpot_p50 and obs.output_tokens > 1:
        out["tpot"] = obs.tpot_p50
    return out


def _errors(setup: Setup, factors: Factors, points: list[Observation]) -> list[float]:
    errs: list[float] = []
    for obs in points:
        pred = predict(setup, factors, obs)
        for key, value in _observed(obs).items():
            if value > 0 and pred[key] > 0 and math.isfinite(pred[key]):
                errs.append(math.log(pred[key] / value))
    return errs


def _loss(setup: Setup, factors: Factors, points: list[Observation]) -> float:
    errs = _errors(setup, factors, points)
    return sum(e * e for e in errs) if errs else math.inf


def fit(setup: Setup, points: list[Observation], start: Factors = DEFAULT_FACTORS) -> Factors:
    """Compass search in log space over the compute and memory efficiencies and the overheads."""
    names = (setup.compute_param, "memory_eff", "layer_overhead_s", "request_overhead_s")
    current = start.model_copy(update={"request_overhead_s": max(start.request_overhead_s, 1e-3)})
    best = _loss(setup, current, points)
    step = math.log(2.0)
    while step > 0.01:
        improved = False
        for name in names:
            for sign in (1.0, -1.0):
                low, high = _BOUNDS[name]
                value = min(max(getattr(current, name) * math.exp(sign * step), low), high)
                trial = current.model_copy(update={name: value})
                loss = _loss(setup, trial, points)
                if loss < best - 1e-12:
                    current, best, improved = trial, loss, True
        if not improved:
            step /= 2
    return current


def _median_abs(errs: list[float]) -> float:
    return statistics.median(abs(math.expm1(e)) for e in errs) if errs else math.nan


def calibrate(
    paths: list[Path],
    *,
    gpu: str,
    engine: str,
    catalog: Catalog,
    model: str | None = None,
    quant: str | None = None,
    tp: int = 1,
    knobs: EngineKnobs | None = None,
) -> Calibration:
    """Fit and store the profile of ``(gpu, engine)`` from the given run.json files or directories."""
    files = run_files(paths)
    runs = [read_run(f) for f in files]
    points = [obs for f, run in zip(files, runs, strict=True) for obs in observations(f, run)]
    if not points:
        raise InputError("the bench runs hold no successful load point with token counts")
    name = model or model_of(runs)
    if name is None:
        raise InputError("the runs do not name one model", hint="pass --model NAME (a catalog name or config.json)")
    spec = catalog.model(name)
    scheme = get_scheme(quant) if quant else native_scheme(spec)
    setup = Setup(Deployment(spec, scheme, catalog.gpu(gpu), tp, knobs or EngineKnobs()), get_engine(engine))
    fitted = fit(setup, points)
    before, after = _errors(setup, DEFAULT_FACTORS, points), _errors(setup, fitted, points)
    spread = sorted(abs(math.expm1(e)) for e in after)
    p90 = spread[min(len(spread) - 1, int(0.9 * len(spread)))] if spread else DEFAULT_FACTORS.uncertainty
    fitted = fitted.model_copy(update={"uncertainty": min(max(p90, 0.05), 0.5)})
    profile = Profile(
        gpu=setup.dep.gpu.name, engine=setup.engine.name, factors=fitted,
        fitted_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), points=len(points),
        sources=[str(f) for f in files], median_abs_error_before=_median_abs(before),
        median_abs_error_after=_median_abs(after), model=spec.name,
    )  # fmt: skip
    path = save_profile(catalog.directory, profile)
    rows = [
        Row(
            f"{Path(obs.source).parent.name}/{obs.label}",
            _observed(obs),
            predict(setup, DEFAULT_FACTORS, obs),
            predict(setup, fitted, obs),
        )
        for obs in points
    ]
    return Calibration(profile, path, rows)
