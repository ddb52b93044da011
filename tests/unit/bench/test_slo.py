from __future__ import annotations

import numpy as np
import pytest

from mlway.bench.slo import SloSpec
from mlway.bench.summary import Distribution
from mlway.core.errors import InputError


def dist(p50: float, p95: float, p99: float, mean: float | None = None) -> Distribution:
    return Distribution(
        count=100, mean=mean if mean is not None else p50, std=0.0, min=0.0, max=p99,
        p50=p50, p90=p95, p95=p95, p99=p99, p999=p99,
    )  # fmt: skip


def test_parse_reads_the_issue_example_in_seconds() -> None:
    spec = SloSpec.parse("ttft_p95=1s,tpot_p95=50ms,e2e_p99=10s")
    assert spec.as_dict == {"ttft_p95": 1.0, "tpot_p95": 0.05, "e2e_p99": 10.0}
    assert str(spec) == "ttft_p95 <= 1.00 s, tpot_p95 <= 50.0 ms, e2e_p99 <= 10.00 s"


def test_parse_accepts_mean_itl_spaces_and_the_p99_9_spelling() -> None:
    spec = SloSpec.parse(" itl_mean = 20ms , E2E_p99.9=2 ")
    assert spec.as_dict == {"itl_mean": 0.02, "e2e_p999": 2.0}
    assert spec.checks_itl


def test_from_limits_takes_cli_options_as_numbers_or_text() -> None:
    spec = SloSpec.from_limits({"ttft_p95": "800ms", "tpot_p99": 0.05})
    assert spec.as_dict == {"ttft_p95": 0.8, "tpot_p99": 0.05}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ttft_p95", "ttft_p95"),
        ("latency_p95=1s", "latency_p95"),
        ("ttft_p42=1s", "ttft_p42"),
        ("ttft=1s", "ttft"),
        ("ttft_p95=fast", "fast"),
        ("ttft_p95=0s", "ttft_p95=0s"),
        ("ttft_p95=1s,ttft_p95=2s", "ttft_p95"),
        ("ttft_p999=1s,ttft_p99.9=2s", "ttft_p999"),
        (" , ", "no limits"),
    ],
)
def test_bad_input_names_the_item_and_the_valid_form(text: str, named: str) -> None:
    with pytest.raises(InputError) as caught:
        SloSpec.parse(text)
    assert named in caught.value.message
    assert caught.value.hint


def test_unknown_name_lists_valid_metrics_and_statistics() -> None:
    with pytest.raises(InputError) as caught:
        SloSpec.parse("ttfb_p95=1s")
    assert "ttft, tpot, itl, e2e" in str(caught.value)
    assert "p50, p90, p95, p99, p999, mean" in str(caught.value)


def test_a_request_meets_the_slo_only_within_every_limit() -> None:
    spec = SloSpec.parse("ttft_p95=1s,tpot_p95=50ms,e2e_p99=10s")
    assert spec.request_meets(ttft=0.9, tpot=0.04, e2e=6.0)
    assert not spec.request_meets(ttft=1.1, tpot=0.04, e2e=6.0)
    assert not spec.request_meets(ttft=0.9, tpot=0.06, e2e=6.0)
    assert not spec.request_meets(ttft=0.9, tpot=0.04, e2e=11.0)


def test_a_request_without_content_fails_a_ttft_limit_and_one_token_has_no_tpot() -> None:
    spec = SloSpec.parse("ttft_p95=1s,tpot_p95=50ms")
    assert not spec.request_meets(ttft=None, tpot=None, e2e=0.5)
    assert spec.request_meets(ttft=0.5, tpot=None, e2e=0.5)


def test_itl_limit_is_checked_on_the_requests_own_statistic_of_its_gaps() -> None:
    # 99 gaps of 20 ms and one stall of 500 ms: its own p95 gap is 20 ms, its mean 24.8 ms.
    gaps = np.array([0.02] * 99 + [0.5])
    assert SloSpec.parse("itl_p95=30ms").request_meets(ttft=0.1, tpot=0.02, e2e=3.0, gaps=gaps)
    assert not SloSpec.parse("itl_p999=30ms").request_meets(ttft=0.1, tpot=0.02, e2e=3.0, gaps=gaps)
    assert SloSpec.parse("itl_mean=25ms").request_meets(ttft=0.1, tpot=0.02, e2e=3.0, gaps=gaps)
    assert not SloSpec.parse("itl_mean=24ms").request_meets(ttft=0.1, tpot=0.02, e2e=3.0, gaps=gaps)


def test_point_passes_when_every_observed_statistic_is_within_its_limit() -> None:
    spec = SloSpec.parse("ttft_p95=1s,tpot_p95=50ms")
    metrics = {"ttft": dist(0.5, 0.9, 1.5), "tpot": dist(0.03, 0.05, 0.08)}
    result = spec.evaluate(metrics, met=90, measured=100, duration_s=20.0)
    assert result.passed
    assert result.observed == {"ttft_p95": 0.9, "tpot_p95": 0.05}
    assert result.attainment == pytest.approx(0.9)
    assert result.goodput == pytest.approx(4.5)


def test_point_fails_on_one_limit_or_a_metric_without_data() -> None:
    spec = SloSpec.parse("ttft_p99=1s,tpot_mean=50ms")
    over = spec.evaluate(
        {"ttft": dist(0.5, 0.9, 1.5), "tpot": dist(0.03, 0.04, 0.05)}, met=0, measured=10, duration_s=1
    )
    assert not over.passed
    missing = spec.evaluate({"ttft": dist(0.1, 0.2, 0.3)}, met=0, measured=0, duration_s=0)
    assert not missing.passed
    assert missing.observed == {"ttft_p99": 0.3}
    assert missing.attainment == 0.0
    assert missing.goodput == 0.0
