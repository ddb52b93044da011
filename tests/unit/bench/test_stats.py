from __future__ import annotations

import numpy as np
import pytest

from mlway.bench.records import RequestRecord
from mlway.bench.slo import SloSpec
from mlway.bench.stats import FORMULAS, GapAccumulator, summarize
from mlway.bench.summary import LoadSpec, PointSummary

CLOSED = LoadSpec(mode="concurrency", concurrency=4)


def streamed(
    index: int,
    *,
    sent: float = 0.0,
    ttft: float = 0.2,
    gap: float = 0.05,
    tokens: int = 128,
    scheduled: float | None = None,
    warmup: bool = False,
    target: int | None = None,
    source: str = "usage",
) -> RequestRecord:
    """A streamed request: first content ``ttft`` after sending, then one chunk every ``gap``."""
    chunks = [sent + ttft + i * gap for i in range(tokens)]
    return RequestRecord(
        index=index,
        warmup=warmup,
        scheduled_at=sent if scheduled is None else scheduled,
        sent_at=sent,
        headers_at=sent + ttft / 2,
        first_content_at=chunks[0] if chunks else None,
        end_at=chunks[-1] if chunks else sent + ttft,
        chunk_times=chunks,
        events=tokens + 2,
        input_tokens_target=512,
        output_tokens_target=tokens if target is None else target,
        prompt_tokens=512,
        completion_tokens=tokens,
        tokens_source=source,  # type: ignore[arg-type]
        status=200,
    )


def failed(index: int, kind: str, *, sent: float = 0.0, end: float = 0.1) -> RequestRecord:
    return RequestRecord(
        index=index, warmup=False, scheduled_at=sent, sent_at=sent, end_at=end,
        status=503 if kind == "http_5xx" else None, error_kind=kind, error=f"{kind} happened",
    )  # fmt: skip


def point(records: list[RequestRecord], **kwargs: object) -> PointSummary:
    kwargs.setdefault("load", CLOSED)
    return summarize(records, label="c4", records_path="points/c4/requests.jsonl", **kwargs)  # type: ignore[arg-type]


def test_one_streamed_request_gives_the_latencies_a_user_expects() -> None:
    # Sent at 0, first content at 0.2 s, then 127 more chunks every 50 ms: ends at 6.55 s.
    summary = point([streamed(0)])
    m = summary.metrics
    assert m["ttft"].p50 == pytest.approx(0.2)
    assert m["e2e"].p50 == pytest.approx(6.55)
    assert m["tpot"].p50 == pytest.approx(0.05)
    assert m["itl"].count == 127
    assert m["itl"].p99 == pytest.approx(0.05)
    assert m["itl"].std == pytest.approx(0.0, abs=1e-6)
    assert m["output_tokens"].mean == 128
    assert m["input_tokens"].mean == 512
    assert m["queue_time"].max == 0.0
    assert summary.duration_s == pytest.approx(6.55)
    assert summary.request_rate == pytest.approx(1 / 6.55)
    assert summary.output_token_rate == pytest.approx(128 / 6.55)
    assert summary.total_token_rate == pytest.approx(640 / 6.55)
    assert summary.tokens_source == {"usage": 1}


def test_percentiles_use_numpys_linear_method() -> None:
    # TTFTs 0.1, 0.2, ..., 1.0 s: linear interpolation puts p50 at 0.55 and p90 at 0.91.
    records = [streamed(i, ttft=0.1 * (i + 1), tokens=2) for i in range(10)]
    ttft = point(records).metrics["ttft"]
    assert ttft.p50 == pytest.approx(0.55)
    assert ttft.p90 == pytest.approx(0.91)
    assert ttft.min == pytest.approx(0.1)
    assert ttft.max == pytest.approx(1.0)
    assert ttft.mean == pytest.approx(0.55)


def test_warmup_requests_are_counted_but_excluded_from_every_statistic() -> None:
    records = [streamed(0, ttft=9.0, warmup=True), streamed(1, sent=10.0), streamed(2, sent=10.0)]
    summary = point(records)
    assert (summary.warmup, summary.requests, summary.ok) == (1, 2, 2)
    assert summary.metrics["ttft"].max == pytest.approx(0.2)
    assert summary.duration_s == pytest.approx(6.55)


def test_tpot_needs_two_output_tokens_and_gaps_need_two_chunks() -> None:
    summary = point([streamed(0, tokens=1), streamed(1, tokens=1)])
    assert "tpot" not in summary.metrics
    assert "itl" not in summary.metrics
    assert summary.metrics["ttft"].count == 2


def test_errors_are_counted_by_kind_and_a_high_share_warns() -> None:
    records = [streamed(i) for i in range(8)] + [failed(8, "http_5xx"), failed(9, "timeout")]
    summary = point(records)
    assert summary.errors == {"http_5xx": 1, "timeout": 1}
    assert (summary.requests, summary.ok) == (10, 8)
    assert summary.metrics["ttft"].count == 8
    assert any("20% of requests failed" in w and "http_5xx: 1" in w for w in summary.warnings)


def test_cancelled_requests_at_the_end_of_a_run_do_not_count_as_failures() -> None:
    records = [streamed(i) for i in range(4)] + [failed(4, "cancelled", sent=1.0, end=100.0)]
    summary = point(records)
    assert summary.errors == {"cancelled": 1}
    assert summary.duration_s == pytest.approx(6.55)
    assert not any("failed" in w for w in summary.warnings)


@pytest.mark.parametrize("records", [[], [failed(0, "connect"), failed(1, "connect")]])
def test_a_point_with_nothing_successful_does_not_crash(records: list[RequestRecord]) -> None:
    summary = point(records, slo=SloSpec.parse("ttft_p95=1s"))
    assert summary.metrics == {}
    assert summary.request_rate == 0.0
    assert summary.warnings
    assert summary.slo is not None
    assert not summary.slo.passed
    PointSummary.model_validate_json(summary.model_dump_json())  # no NaN sneaks into run.json


def test_too_few_requests_for_the_tail_warns() -> None:
    assert any("p99" in w for w in point([streamed(i) for i in range(20)]).warnings)
    assert not point([streamed(i, tokens=2) for i in range(100)]).warnings


def test_a_server_ignoring_the_forced_length_is_reported() -> None:
    records = [streamed(i) for i in range(200)] + [
        streamed(200, tokens=97, target=128),
        streamed(201, tokens=40, target=128, source="chunks"),  # a chunk count proves nothing
    ]
    (warning,) = point(records).warnings
    assert "1 of 201 requests" in warning
    assert "97 tokens instead of 128" in warning


def test_slo_attainment_and_goodput_count_requests_within_every_limit() -> None:
    # Four requests back to back over 2 x 6.55 s; one has a slow first token.
    records = [streamed(0), streamed(1), streamed(2, sent=6.55), streamed(3, sent=6.55, ttft=1.5)]
    summary = point(records, slo=SloSpec.parse("ttft_p50=1s,tpot_p95=60ms"))
    assert summary.slo is not None
    assert summary.slo.attainment == pytest.approx(0.75)
    assert summary.slo.goodput == pytest.approx(3 / summary.duration_s)
    assert summary.slo.passed
    assert summary.slo.observed["ttft_p50"] == pytest.approx(0.2)


def open_loop(rate: float, cap: int | None = None) -> LoadSpec:
    return LoadSpec(mode="rate", rate=rate, arrival="constant", max_concurrency=cap)


def test_sending_on_time_gives_no_rate_warning() -> None:
    records = [streamed(i, sent=i * 0.1, tokens=2) for i in range(200)]
    summary = point(records, load=open_loop(10.0))
    assert summary.target_rate == 10.0
    assert summary.send_rate == pytest.approx(10.0)
    assert not summary.warnings


def test_late_sends_with_no_cap_blame_the_client() -> None:
    # Scheduled every 0.1 s but sent every 0.2 s: each waits longer than the last.
    records = [streamed(i, scheduled=i * 0.1, sent=i * 0.2, tokens=2) for i in range(200)]
    summary = point(records, load=open_loop(10.0))
    assert summary.send_rate == pytest.approx(5.0)
    (warning,) = summary.warnings
    assert "50% of the target 10 req/s" in warning
    assert "the client fell behind" in warning


def test_late_sends_under_an_in_flight_cap_blame_the_server() -> None:
    records = [streamed(i, scheduled=i * 0.1, sent=i * 0.2, tokens=2) for i in range(200)]
    (warning,) = point(records, load=open_loop(10.0, cap=8)).warnings
    assert "the server fell behind" in warning
    assert "max_concurrency=8" in warning


def test_server_samples_become_distributions_beside_latency() -> None:
    samples = [{"t": float(t), "running": 4.0, "waiting": float(t), "kv_cache_usage": 0.5} for t in range(5)]
    summary = point([streamed(0)], server_samples=samples)
    assert set(summary.server_metrics) == {"running", "waiting", "kv_cache_usage"}
    assert summary.server_metrics["waiting"].max == 4.0
    assert summary.server_metric_samples == samples


def test_nan_gauges_from_prometheus_are_dropped_so_run_json_reads_back() -> None:
    samples = [{"t": 0.0, "running": 2.0, "kv_cache_usage": float("nan")}, {"t": 0.5, "running": 3.0}]
    summary = point([streamed(0)], server_samples=samples)
    assert summary.server_metric_samples == [{"t": 0.0, "running": 2.0}, {"t": 0.5, "running": 3.0}]
    assert set(summary.server_metrics) == {"running"}
    assert PointSummary.model_validate_json(summary.model_dump_json()) == summary


def test_formulas_name_the_peers_conflicting_definitions() -> None:
    assert {"ttft", "tpot", "itl", "e2e", "queue_time", "goodput", "statistics"} <= set(FORMULAS)
    assert "GenAI-Perf" in FORMULAS["tpot"]
    assert "vLLM" in FORMULAS["itl"]
    assert "linear" in FORMULAS["statistics"]


def test_gap_histogram_stays_within_half_a_percent_and_bounded() -> None:
    rng = np.random.default_rng(7)
    values = rng.lognormal(mean=np.log(0.03), sigma=0.8, size=200_000)
    exact, folded = GapAccumulator(), GapAccumulator(exact_limit=10_000)
    for chunk in np.array_split(values, 2_000):
        exact.add(chunk)
        folded.add(chunk)
    assert exact.exact
    assert not folded.exact
    a, b = exact.distribution(), folded.distribution()
    assert a is not None
    assert b is not None
    assert b.count == a.count == values.size
    for name in ("p50", "p90", "p95", "p99", "p999"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), rel=0.005), name
    assert b.mean == pytest.approx(a.mean, rel=1e-6)
    assert b.std == pytest.approx(a.std, rel=1e-6)
    assert (b.min, b.max) == (a.min, a.max)
    assert a.p99 == pytest.approx(np.percentile(values, 99), rel=1e-6)


def test_public_api_is_pinned() -> None:
    import mlway.bench.stats  # noqa: PLC0415

    assert sorted(mlway.bench.stats.__all__) == [
        "FORMULAS",
        "GapAccumulator",
        "PERCENTILES",
        "distribution",
        "summarize",
    ]
