"""Service-level objectives: limits on latency percentiles, checked per request and per load point.

A spec is written ``ttft_p95=1s,tpot_p95=50ms,e2e_p99=10s``: ``<metric>_<statistic>=<duration>``
with metric one of ttft, tpot, itl, e2e and statistic one of p50, p90, p95, p99, p999, mean.

Two checks use it:

* per point: the observed statistic over the point's successful requests is within its limit
  (``SloResult.passed``);
* per request (DistServe-style goodput): a request *meets the SLO* when it succeeded and its own
  TTFT, TPOT and E2E are within every limit on those metrics, whatever percentile the limit names.
  A request has many inter-token gaps, so an ITL limit is checked against the request's own
  statistic of its gaps: ``itl_p95=80ms`` needs the request's own p95 gap within 80 ms (``mean``:
  its mean gap). Taking its worst gap instead would fail most requests of a point that passes.
  A request with fewer than two output tokens has no TPOT and no gaps: those limits hold trivially.

Every comparison forgives 1 ns of float rounding (a TPOT computed as 0.05000000000001 s meets 50 ms).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlway.bench.summary import Distribution, SloResult
from mlway.core.errors import InputError
from mlway.core.units import format_duration, parse_duration

SLO_METRICS = ("ttft", "tpot", "itl", "e2e")
SLO_STATISTICS = ("p50", "p90", "p95", "p99", "p999", "mean")
_ALIASES = {"p99.9": "p999"}
_QUANTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
_FORM = "write metric_statistic=duration items separated by commas, e.g. ttft_p95=1s,tpot_p95=50ms,e2e_p99=10s"
_SLACK = 1e-9
"""Seconds of float rounding forgiven in every comparison: a TPOT of 0.05000000000001 s meets 50 ms."""
_VALID = f"metrics: {', '.join(SLO_METRICS)}; statistics: {', '.join(SLO_STATISTICS)}"


@dataclass(frozen=True, slots=True)
class SloLimit:
    """One limit: ``metric``'s ``statistic`` must be at most ``seconds``."""

    metric: str
    statistic: str
    seconds: float

    @property
    def key(self) -> str:
        return f"{self.metric}_{self.statistic}"

    def observed(self, distribution: Distribution) -> float:
        """The point's value of this limit's statistic."""
        return float(getattr(distribution, self.statistic))

    def __str__(self) -> str:
        return f"{self.key} <= {format_duration(self.seconds)}"


@dataclass(frozen=True, slots=True)
class SloSpec:
    """A set of limits; build it with :meth:`parse` or :meth:`from_limits`."""

    limits: tuple[SloLimit, ...]

    @classmethod
    def parse(cls, text: str) -> SloSpec:
        """``"ttft_p95=1s,tpot_p95=50ms"`` -> a spec; bad items raise InputError naming them."""
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise InputError(f"invalid SLO {text!r}: no limits given", hint=_FORM)
        pairs: list[tuple[str, str]] = []
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise InputError(f"invalid SLO item {item!r} in {text!r}", hint=_FORM)
            pairs.append((name.strip(), value.strip()))
        return cls._build(pairs)

    @classmethod
    def from_limits(cls, limits: Mapping[str, str | float]) -> SloSpec:
        """``{"ttft_p95": "1s", "tpot_p95": 0.05}`` -> a spec (numbers are seconds)."""
        return cls._build(list(limits.items()))

    @classmethod
    def _build(cls, pairs: Sequence[tuple[str, str | float]]) -> SloSpec:
        if not pairs:
            raise InputError("an SLO needs at least one limit", hint=_FORM)
        parsed: list[SloLimit] = []
        for name, value in pairs:
            metric, statistic = _split_name(name)
            try:
                seconds = parse_duration(value, what=f"SLO limit {name}")
            except InputError as exc:
                raise InputError(
                    f"invalid SLO item {name}={value}: {value!r} is not a duration",
                    hint="write a duration such as 800ms or 1.5s",
                ) from exc
            if seconds <= 0 or not math.isfinite(seconds):
                raise InputError(
                    f"invalid SLO item {name}={value}: the limit must be a positive duration",
                    hint="write a duration such as 800ms or 1.5s",
                )
            limit = SloLimit(metric, statistic, seconds)
            if any(other.key == limit.key for other in parsed):
                raise InputError(f"invalid SLO: {limit.key} is given twice", hint="give each limit once")
            parsed.append(limit)
        return cls(tuple(parsed))

    @property
    def as_dict(self) -> dict[str, float]:
        """``{"ttft_p95": 1.0, ...}``: limit keys to seconds (the form stored in SloResult)."""
        return {limit.key: limit.seconds for limit in self.limits}

    @property
    def checks_itl(self) -> bool:
        return any(limit.metric == "itl" for limit in self.limits)

    def __str__(self) -> str:
        return ", ".join(str(limit) for limit in self.limits)

    def request_meets(
        self,
        *,
        ttft: float | None,
        tpot: float | None,
        e2e: float,
        gaps: npt.NDArray[np.floating] | None = None,
    ) -> bool:
        """Whether one successful request is within every limit (see the module docstring).

        ``ttft`` is None when no content arrived (such a request cannot meet a TTFT limit);
        ``tpot`` is None below two output tokens; ``gaps`` are the request's inter-chunk gaps.
        """
        for limit in self.limits:
            if limit.metric == "ttft":
                if ttft is None or ttft > limit.seconds + _SLACK:
                    return False
            elif limit.metric == "e2e":
                if e2e > limit.seconds + _SLACK:
                    return False
            elif limit.metric == "tpot":
                if tpot is not None and tpot > limit.seconds + _SLACK:
                    return False
            elif gaps is not None and gaps.size and _own_statistic(gaps, limit.statistic) > limit.seconds + _SLACK:
                return False
        return True

    def evaluate(self, metrics: Mapping[str, Distribution], *, met: int, measured: int, duration_s: float) -> SloResult:
        """The point check: observed statistics against limits, plus attainment and goodput.

        ``met`` requests met every limit out of ``measured``; a metric with no data (no successful
        request) is left out of ``observed`` and fails the point.
        """
        observed: dict[str, float] = {}
        for limit in self.limits:
            distribution = metrics.get(limit.metric)
            if distribution is not None and distribution.count:
                observed[limit.key] = limit.observed(distribution)
        passed = len(observed) == len(self.limits) and all(
            observed[limit.key] <= limit.seconds + _SLACK for limit in self.limits
        )
        return SloResult(
            limits=self.as_dict,
            observed=observed,
            passed=passed,
            attainment=met / measured if measured else 0.0,
            goodput=met / duration_s if duration_s > 0 else 0.0,
        )


def _split_name(name: str) -> tuple[str, str]:
    metric, sep, statistic = name.strip().lower().partition("_")
    statistic = _ALIASES.get(statistic, statistic)
    if not sep or metric not in SLO_METRICS or statistic not in SLO_STATISTICS:
        raise InputError(f"invalid SLO item {name!r}: unknown limit name", hint=f"{_FORM}; {_VALID}")
    return metric, statistic


def _own_statistic(gaps: npt.NDArray[np.floating], statistic: str) -> float:
    """One request's mean or percentile gap (numpy's linear method, without np.percentile's overhead)."""
    if statistic == "mean":
        return float(gaps.mean())
    ordered = np.sort(gaps)
    rank = _QUANTILES[statistic] / 100.0 * (ordered.size - 1)
    below = int(rank)
    if below + 1 >= ordered.size:
        return float(ordered[-1])
    low, high = float(ordered[below]), float(ordered[below + 1])
    return low + (rank - below) * (high - low)
