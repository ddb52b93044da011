"""Workload and SLO parsing."""

from __future__ import annotations

import pytest

from mlway.core.errors import InputError
from mlway.plan import TokenDist, Workload, parse_slo


def test_token_counts_take_the_bench_forms() -> None:
    assert TokenDist.parse("512").mean == 512
    uniform = TokenDist.parse("uniform:256-768")
    assert uniform.mean == 512
    assert uniform.max == 768
    normal = TokenDist.parse("normal:2000,300")
    assert normal.quantile("p95") > normal.quantile("p50") == 2000
    assert normal.max > normal.quantile("p99")


@pytest.mark.parametrize("text", ["lots", "uniform:9-3", "normal:5", "uniform:1,2,3"])
def test_bad_token_counts_say_the_accepted_forms(text: str) -> None:
    with pytest.raises(InputError) as err:
        TokenDist.parse(text)
    assert "uniform" in str(err.value)


def test_slo_string_parses_every_metric_and_percentile() -> None:
    targets = parse_slo("ttft_p95=1s,tpot_p99=50ms,e2e_p50=20s")
    assert [(t.key, t.seconds) for t in targets] == [("ttft_p95", 1.0), ("tpot_p99", 0.05), ("e2e_p50", 20.0)]


def test_bad_slo_names_the_form() -> None:
    with pytest.raises(InputError) as err:
        parse_slo("latency=1s")
    assert "ttft_p95" in str(err.value)


def test_workload_needs_users_or_rps_but_not_both() -> None:
    tokens = TokenDist.parse("100")
    with pytest.raises(InputError):
        Workload(input_tokens=tokens, output_tokens=tokens)
    with pytest.raises(InputError):
        Workload(users=1, rps=1.0, input_tokens=tokens, output_tokens=tokens)


def test_context_defaults_to_the_longest_prompt_plus_answer() -> None:
    wl = Workload(rps=1, input_tokens=TokenDist.parse("uniform:100-900"), output_tokens=TokenDist.parse("200"))
    assert wl.context == 1100
    assert (
        Workload(rps=1, input_tokens=TokenDist.parse("1"), output_tokens=TokenDist.parse("1"), max_context=8192).context
        == 8192
    )
