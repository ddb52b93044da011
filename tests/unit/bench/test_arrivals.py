import itertools
import random
import statistics

import pytest

from mlway.bench.arrivals import interarrival_gaps


@pytest.mark.parametrize("kind", ["constant", "poisson", "gamma"])
def test_mean_gap_matches_the_rate(kind: str) -> None:
    gaps = list(itertools.islice(interarrival_gaps(kind, 50.0, burstiness=0.5, rng=random.Random(3)), 20000))  # type: ignore[arg-type]
    assert statistics.fmean(gaps) == pytest.approx(1 / 50, rel=0.05)


def test_burstiness_changes_the_spread() -> None:
    def cv(kind: str, burst: float) -> float:
        gaps = list(itertools.islice(interarrival_gaps(kind, 10.0, burstiness=burst, rng=random.Random(5)), 20000))  # type: ignore[arg-type]
        return statistics.pstdev(gaps) / statistics.fmean(gaps)

    assert cv("constant", 1.0) == pytest.approx(0.0, abs=1e-9)
    assert cv("poisson", 1.0) == pytest.approx(1.0, rel=0.05)
    assert cv("gamma", 0.25) > 1.5  # burstier than Poisson
    assert cv("gamma", 4.0) < 0.6  # more regular than Poisson
