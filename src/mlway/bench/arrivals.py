"""Open-loop arrival processes: the gaps between request arrivals at a target rate."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Literal

Arrival = Literal["constant", "poisson", "gamma"]


def interarrival_gaps(kind: Arrival, rate: float, *, burstiness: float = 1.0, rng: random.Random) -> Iterator[float]:
    """Seconds between consecutive arrivals, with mean ``1/rate``.

    constant: every gap is 1/rate. poisson: exponential gaps. gamma: gamma-distributed gaps with
    shape ``burstiness`` (1 = Poisson; below 1 burstier, above 1 more regular), as in vLLM's bench.
    """
    mean = 1.0 / rate
    if kind == "constant":
        while True:
            yield mean
    elif kind == "poisson":
        while True:
            yield rng.expovariate(rate)
    else:
        shape = burstiness
        while True:
            yield rng.gammavariate(shape, mean / shape)
