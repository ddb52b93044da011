"""``mlway bench slo``: the highest request rate (or concurrency) at which the server meets an SLO.

Each trial is a real run. The search doubles the load from ``start`` until a trial fails (or halves it
while the first trials fail), then bisects between the highest pass and the lowest fail until they are
within ``precision`` (relative; 1 for concurrency) or ``max_trials`` runs are spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlway.bench.summary import LoadSpec, PointSummary, SearchSummary, SearchTrial
from mlway.core.errors import InputError

Mode = Literal["rate", "concurrency"]


@dataclass
class SloSearch:
    """The search policy: give it to ``BenchRun.execute`` as ``next_load``."""

    mode: Mode
    slo: str
    start: float
    maximum: float
    max_trials: int = 8
    precision: float = 0.1
    arrival: Literal["constant", "poisson", "gamma"] = "poisson"
    minimum: float = field(init=False)
    trials: list[SearchTrial] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.start <= self.maximum:
            raise InputError(f"--start {self.start:g} must be positive and at most --max {self.maximum:g}")
        if self.max_trials < 2:
            raise InputError("--trials must be at least 2")
        self.minimum = 1.0 if self.mode == "concurrency" else self.start / 64

    def _load(self, value: float) -> LoadSpec:
        if self.mode == "concurrency":
            return LoadSpec(mode="concurrency", concurrency=round(value))
        return LoadSpec(mode="rate", rate=round(value, 3), arrival=self.arrival)

    def first_load(self) -> LoadSpec:
        return self._load(self.start)

    @property
    def bracket(self) -> tuple[float | None, float | None]:
        passed = [t.load for t in self.trials if t.passed]
        failed = [t.load for t in self.trials if not t.passed]
        return (max(passed) if passed else None, min(failed) if failed else None)

    def __call__(self, points: list[PointSummary]) -> LoadSpec | None:
        if points and len(points) > len(self.trials):
            self.trials.append(_trial(points[-1], self.mode))
        if not self.trials:
            return self.first_load()
        if len(self.trials) >= self.max_trials:
            return None
        nxt = self._next_value()
        if nxt is None or any(abs(t.load - nxt) < 1e-9 for t in self.trials):
            return None
        return self._load(nxt)

    def _next_value(self) -> float | None:  # noqa: PLR0911 - one exit per search phase
        low, high = self.bracket
        if high is None:  # everything passed so far: grow
            if low is None or low >= self.maximum:
                return None
            return min(low * 2, self.maximum)
        if low is None:  # everything failed so far: shrink
            value = high / 2
            if self.mode == "concurrency":
                value = float(int(value))
            return value if value >= self.minimum else None
        if self.mode == "concurrency":
            if high - low <= 1:
                return None
            return float((int(low) + int(high)) // 2)
        if (high - low) / low <= self.precision:
            return None
        return (low + high) / 2

    def summary(self) -> SearchSummary:
        low, high = self.bracket
        return SearchSummary(mode=self.mode, slo=self.slo, answer=low, bracket=(low, high), trials=list(self.trials))


def _trial(point: PointSummary, mode: Mode) -> SearchTrial:
    load = float(point.load.concurrency or 0) if mode == "concurrency" else float(point.load.rate or 0)
    slo = point.slo
    if slo is None:
        return SearchTrial(load=load, passed=False, binding="no SLO result (no successful requests)")
    binding = None
    for key, limit in slo.limits.items():
        observed = slo.observed.get(key)
        if observed is None or observed > limit:
            shown = "n/a" if observed is None else f"{observed:.4g}s"
            binding = f"{key} {shown} > {limit:g}s"
            break
    if binding is None and point.errors:
        binding = f"{sum(point.errors.values())} failed requests"
    return SearchTrial(load=load, passed=slo.passed and not point.errors, binding=binding)
