"""The workload and its latency targets: what the business asks for, in the planner's terms."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, model_validator

from mlway.core.errors import InputError
from mlway.core.model import StrictModel
from mlway.core.units import format_duration, parse_duration

Metric = Literal["ttft", "tpot", "e2e"]
Percentile = Literal["p50", "p95", "p99"]
_Z = {"p50": 0.0, "p95": 1.645, "p99": 2.326}
_DIST = re.compile(r"^\s*(?:(uniform|normal):)?\s*([\d.]+)\s*(?:[-,]\s*([\d.]+))?\s*$")


class TokenDist(StrictModel):
    """A token count: fixed, uniform between two bounds, or normal (mean, standard deviation)."""

    kind: Literal["fixed", "uniform", "normal"] = "fixed"
    a: float = Field(ge=0, description="the value, the low bound, or the mean")
    b: float = Field(default=0.0, ge=0, description="the high bound or the standard deviation")

    @classmethod
    def parse(cls, text: str | int, *, what: str = "token count") -> TokenDist:
        """``512``, ``uniform:256-768`` or ``normal:512,64`` (the forms ``mlway bench`` takes)."""
        if isinstance(text, int):
            return cls(a=text)
        match = _DIST.match(text)
        if not match:
            raise InputError(f"invalid {what} {text!r}", hint="write 512, uniform:256-768 or normal:512,64")
        kind, first, second = match.groups()
        if kind is None and second is None:
            return cls(a=float(first))
        if kind is None or second is None:
            raise InputError(f"invalid {what} {text!r}", hint="uniform:LOW-HIGH or normal:MEAN,STD")
        if kind == "uniform" and float(second) < float(first):
            raise InputError(f"invalid {what} {text!r}: the high bound is below the low bound")
        return cls(kind=kind, a=float(first), b=float(second))  # type: ignore[arg-type]

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def quantile(self, percentile: Percentile) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            share = {"p50": 0.5, "p95": 0.95, "p99": 0.99}[percentile]
            return self.a + share * (self.b - self.a)
        return self.a + _Z[percentile] * self.b

    @property
    def max(self) -> int:
        """The longest request to provision context for (normal: mean + 3 sd)."""
        if self.kind == "fixed":
            return math.ceil(self.a)
        if self.kind == "uniform":
            return math.ceil(self.b)
        return math.ceil(self.a + 3 * self.b)

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        sep = "-" if self.kind == "uniform" else ","
        return f"{self.kind}:{self.a:g}{sep}{self.b:g}"


class SloTarget(StrictModel):
    """One latency limit: a metric at a percentile."""

    metric: Metric
    percentile: Percentile
    seconds: float = Field(gt=0)

    @property
    def key(self) -> str:
        return f"{self.metric}_{self.percentile}"

    def __str__(self) -> str:
        return f"{self.metric.upper()} {self.percentile} <= {format_duration(self.seconds)}"


def parse_slo(text: str) -> list[SloTarget]:
    """``ttft_p95=1s,tpot_p95=50ms`` (the form ``mlway bench --slo`` takes)."""
    targets: list[SloTarget] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, value = part.partition("=")
        metric, _, pct = key.strip().lower().partition("_")
        if metric not in ("ttft", "tpot", "e2e") or pct not in ("p50", "p95", "p99") or not value:
            raise InputError(
                f"invalid SLO {part!r}", hint="write metric_percentile=duration, e.g. ttft_p95=1s,tpot_p99=50ms"
            )
        seconds = parse_duration(value, what=f"SLO {key}")
        targets.append(SloTarget(metric=metric, percentile=pct, seconds=seconds))  # type: ignore[arg-type]
    return targets


class Preset(StrictModel):
    """A named set of SLOs (MLPerf server scenarios)."""

    name: str
    model: str | None = None
    percentile: Percentile = "p99"
    ttft_ms: float = Field(gt=0)
    tpot_ms: float = Field(gt=0)
    source: str = "MLCommons inference loadgen/mlperf.conf"

    def targets(self) -> list[SloTarget]:
        return [
            SloTarget(metric="ttft", percentile=self.percentile, seconds=self.ttft_ms / 1000),
            SloTarget(metric="tpot", percentile=self.percentile, seconds=self.tpot_ms / 1000),
        ]


class Workload(StrictModel):
    """Load and request shape. Give concurrent users (closed loop) or requests per second (open loop)."""

    users: int | None = Field(default=None, ge=1, description="concurrent users, each waiting for its answer")
    rps: float | None = Field(default=None, gt=0, description="arrivals per second (Poisson)")
    think_time: float = Field(default=0.0, ge=0, description="seconds a user waits between requests")
    input_tokens: TokenDist
    output_tokens: TokenDist
    max_context: int | None = Field(default=None, ge=1, description="max_model_len to provision")
    slo: list[SloTarget] = Field(default_factory=list)
    test_duration: float = Field(default=120.0, gt=0, description="length of a load test, for saturation")

    @model_validator(mode="after")
    def _one_load(self) -> Workload:
        if (self.users is None) == (self.rps is None):
            raise InputError("give either --users or --rps", hint="--users 100 or --rps 60")
        return self

    @property
    def context(self) -> int:
        """Tokens one request may hold: the given max context, else the longest prompt + answer."""
        return self.max_context or self.input_tokens.max + self.output_tokens.max

    def limit(self, metric: Metric) -> SloTarget | None:
        matching = [t for t in self.slo if t.metric == metric]
        return min(matching, key=lambda t: t.seconds) if matching else None

    def describe(self) -> str:
        load = f"{self.users} users" if self.users else f"{self.rps:g} req/s"
        return f"{load}, {self.input_tokens} in / {self.output_tokens} out tokens, context {self.context}"
