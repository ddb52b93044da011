from mlway.bench.search import SloSearch
from mlway.bench.summary import LoadSpec, PointSummary, SloResult


def _point(load: LoadSpec, ttft_p95: float) -> PointSummary:
    limit = 1.0
    return PointSummary(
        label=load.label, load=load, requests=10, ok=10, warmup=0, duration_s=1, request_rate=1,
        output_token_rate=1, total_token_rate=1, records_path="x",
        slo=SloResult(
            limits={"ttft_p95": limit}, observed={"ttft_p95": ttft_p95}, passed=ttft_p95 <= limit,
            attainment=1.0, goodput=1.0,
        ),
    )  # fmt: skip


def _drive(search: SloSearch, capacity: float) -> list[float]:
    """A server whose TTFT p95 exceeds 1 s above `capacity` req/s."""
    points: list[PointSummary] = []
    tried = []
    while (load := search(points)) is not None:
        value = load.rate if load.rate is not None else float(load.concurrency or 0)
        tried.append(value)
        points.append(_point(load, 0.5 if value <= capacity else 3.0))
    return tried


def test_rate_search_brackets_the_capacity() -> None:
    search = SloSearch(mode="rate", slo="ttft_p95=1s", start=1, maximum=512, max_trials=12)
    tried = _drive(search, capacity=37.0)
    answer = search.summary().answer
    assert answer is not None
    assert 37.0 * 0.9 <= answer <= 37.0
    assert tried[:7] == [1, 2, 4, 8, 16, 32, 64]
    assert search.summary().trials[-1].load in tried


def test_concurrency_search_finds_the_exact_integer() -> None:
    search = SloSearch(mode="concurrency", slo="ttft_p95=1s", start=1, maximum=256, max_trials=20)
    _drive(search, capacity=11)
    assert search.summary().answer == 11
    failing = [t for t in search.summary().trials if not t.passed]
    assert failing
    assert failing[0].binding is not None
    assert "ttft_p95" in failing[0].binding


def test_nothing_passes_gives_no_answer() -> None:
    search = SloSearch(mode="rate", slo="ttft_p95=1s", start=8, maximum=64, max_trials=10)
    _drive(search, capacity=0.01)
    assert search.summary().answer is None


def test_trial_budget_is_respected() -> None:
    search = SloSearch(mode="rate", slo="ttft_p95=1s", start=1, maximum=1e6, max_trials=4)
    assert len(_drive(search, capacity=1e9)) == 4
