"""Efficiency factors: the share of the roofline a real engine reaches, and calibration profiles.

The defaults are ONE set for every GPU and engine, chosen against the whole calibration file
(shared/calibration/llm_measurements.md) and checked on published measurements that are not in
it (benchmarks/plan/accuracy.py prints both). ``mlway plan calibrate`` fits a (GPU, engine)
profile from ``mlway bench`` results; later plans for that pair use it and narrow their band.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from mlway.core.errors import ConfigError
from mlway.core.model import StrictModel


class Factors(StrictModel):
    """Multipliers on the roofline. Times are seconds."""

    compute_eff: float = Field(default=0.68, gt=0, le=1, description="16-bit GEMM share of peak FLOP/s")
    low_precision_eff: float = Field(default=0.5, gt=0, le=1, description="FP8/INT8 GEMM share of their peak")
    weight_only_eff: float = Field(
        default=0.8, gt=0, le=1, description="compute-bound speed of dequantizing kernels vs 16-bit"
    )
    memory_eff: float = Field(default=0.85, gt=0, le=1, description="share of memory bandwidth reached")
    layer_overhead_s: float = Field(default=50e-6, ge=0, description="per layer per step: launches, norms")
    step_overhead_s: float = Field(default=0.5e-3, ge=0, description="per step: scheduler, sampling")
    request_overhead_s: float = Field(
        default=0.0, ge=0, description="per request, off the GPU: HTTP, tokenization, detokenization (TTFT only)"
    )
    roofline_p: float = Field(default=2.0, ge=1, description="corner rounding of the roofline (p-norm)")
    comm_eff: float = Field(default=0.7, gt=0, le=1, description="share of link bandwidth in all-reduce")
    uncertainty: float = Field(default=0.2, gt=0, lt=1, description="half-width of the prediction band")


DEFAULT_FACTORS = Factors()


class Profile(StrictModel):
    """Factors fitted for one (GPU, engine) pair, with where they came from."""

    gpu: str
    engine: str
    factors: Factors
    fitted_at: str = Field(description="ISO 8601 date-time of the fit")
    points: int = Field(ge=0, description="bench load points the fit used")
    sources: list[str] = Field(default_factory=list, description="run.json files")
    median_abs_error_before: float = Field(description="median |log error| with the default factors")
    median_abs_error_after: float = Field(description="median |log error| with the fitted factors")
    model: str | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def profile_path(directory: Path, gpu: str, engine: str) -> Path:
    return directory / "profiles" / f"{_slug(gpu)}__{_slug(engine)}.yaml"


def save_profile(directory: Path, profile: Profile) -> Path:
    path = profile_path(directory, profile.gpu, profile.engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


def load_profile(directory: Path, gpu: str, engine: str) -> Profile | None:
    """The stored profile of a (GPU, engine) pair, or None."""
    path = profile_path(directory, gpu, engine)
    if not path.is_file():
        return None
    try:
        return Profile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(
            f"calibration profile {path} is invalid: {exc}", hint="re-run `mlway plan calibrate`"
        ) from exc
