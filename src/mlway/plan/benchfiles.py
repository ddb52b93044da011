"""Read ``mlway bench`` results (``run.json``) without importing ``mlway.bench``.

Only the fields calibration needs are declared; unknown fields are ignored, so newer bench
files still read. The schema is ``RunResult`` in ``mlway/bench/summary.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlway.core.errors import InputError, NotFoundError
from mlway.plan.workload import TokenDist


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BenchDistribution(_Lenient):
    count: int = 0
    mean: float
    p50: float
    p95: float | None = None
    p99: float | None = None


class BenchLoad(_Lenient):
    mode: Literal["concurrency", "rate"]
    concurrency: int | None = None
    rate: float | None = None


class BenchPoint(_Lenient):
    label: str
    load: BenchLoad
    ok: int
    duration_s: float
    request_rate: float
    output_token_rate: float
    metrics: dict[str, BenchDistribution] = {}


class BenchRun(_Lenient):
    name: str
    config: dict[str, Any] = {}
    points: list[BenchPoint] = []


class Observation(_Lenient):
    """One load point, in the planner's terms."""

    source: str
    label: str
    mode: Literal["concurrency", "rate"]
    load: float
    duration: float
    prompt_tokens: float
    output_tokens: float
    ttft_p50: float | None
    tpot_p50: float | None
    output_token_rate: float


def run_files(paths: list[Path]) -> list[Path]:
    """``run.json`` files: the given files, and every run.json under the given directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(path.rglob("run.json")))
        else:
            raise NotFoundError(f"no such file or directory: {path}")
    if not found:
        raise NotFoundError(
            f"no run.json under {', '.join(map(str, paths))}",
            hint="give directories written by `mlway bench run --out`",
        )
    return found


def read_run(path: Path) -> BenchRun:
    try:
        return BenchRun.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise InputError(f"{path} is not a readable mlway bench run.json: {exc}") from exc


def _tokens(point: BenchPoint, config: dict[str, Any], key: str) -> float | None:
    dist = point.metrics.get(key)
    if dist is not None and dist.count > 0:
        return dist.mean
    value = config.get(key)
    if value is None:
        return None
    return TokenDist.parse(str(value), what=f"{key} in run.json").mean


def observations(path: Path, run: BenchRun) -> list[Observation]:
    """The usable load points of one run (successful requests with known token counts)."""
    out: list[Observation] = []
    for point in run.points:
        prompt = _tokens(point, run.config, "input_tokens")
        output = _tokens(point, run.config, "output_tokens")
        if point.ok == 0 or prompt is None or output is None:
            continue
        load = point.load.concurrency if point.load.mode == "concurrency" else point.load.rate
        ttft, tpot = point.metrics.get("ttft"), point.metrics.get("tpot")
        out.append(
            Observation(
                source=str(path),
                label=point.label,
                mode=point.load.mode,
                load=float(load or 1),
                duration=point.duration_s,
                prompt_tokens=prompt,
                output_tokens=output,
                ttft_p50=ttft.p50 if ttft else None,
                tpot_p50=tpot.p50 if tpot else None,
                output_token_rate=point.output_token_rate,
            )
        )
    return out


def model_of(runs: list[BenchRun]) -> str | None:
    """The model name the runs were made with, if they agree."""
    names = {str(r.config["model"]) for r in runs if r.config.get("model")}
    return names.pop() if len(names) == 1 else None
