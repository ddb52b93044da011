"""Behaviour at load: batching, saturation, queues (Little's law)."""

from __future__ import annotations

import pytest

from mlway.plan import DEFAULT_FACTORS, Catalog, Deployment, get_engine, get_scheme
from mlway.plan.perf import StepModel
from mlway.plan.queueing import Replica, Request


@pytest.fixture
def replica(catalog: Catalog) -> Replica:
    dep = Deployment(catalog.model("llama-3.1-8b"), get_scheme("bf16"), catalog.gpu("l40s"))
    step = StepModel(dep, get_engine("vllm"), DEFAULT_FACTORS)
    shape = dict.fromkeys(("p50", "p95", "p99"), 512.0)
    return Replica(step, Request(512, 256, shape, dict.fromkeys(("p50", "p95", "p99"), 256.0)), 64, 2048)


def test_throughput_grows_with_the_batch_and_tpot_with_it(replica: Replica) -> None:
    small, large = replica.at_users(4), replica.at_users(48)
    assert large.output_rate > 4 * small.output_rate
    assert large.tpot["p50"] > small.tpot["p50"]


def test_past_saturation_throughput_is_flat_and_ttft_grows_with_the_queue(replica: Replica) -> None:
    capacity = replica.capacity
    below = replica.at_rate(0.5 * capacity, 120)
    over = replica.at_rate(1.5 * capacity, 120)
    far_over = replica.at_rate(3 * capacity, 120)
    assert not below.saturated
    assert over.saturated
    assert far_over.saturated
    assert over.request_rate == pytest.approx(far_over.request_rate)
    assert far_over.ttft["p50"] > over.ttft["p50"] > 10 * below.ttft["p50"]
    assert "queue grows" in over.explanation


def test_a_longer_overloaded_test_waits_longer(replica: Replica) -> None:
    rate = 1.2 * replica.capacity
    assert replica.at_rate(rate, 600).ttft["p95"] > 4 * replica.at_rate(rate, 120).ttft["p95"]


def test_queueing_delay_rises_as_load_nears_capacity(replica: Replica) -> None:
    ttfts = [replica.at_rate(share * replica.capacity, 120).ttft["p95"] for share in (0.2, 0.6, 0.9, 0.98)]
    assert ttfts == sorted(ttfts)
    assert ttfts[-1] > 3 * ttfts[0]


def test_littles_law_links_rate_latency_and_requests_in_flight(replica: Replica) -> None:
    result = replica.at_rate(0.5 * replica.capacity, 120)
    assert result.concurrency == pytest.approx(result.request_rate * result.e2e["p50"], rel=0.1)


def test_more_users_than_the_batch_queue_for_their_first_token(replica: Replica) -> None:
    fits = replica.at_users(64)
    queued = replica.at_users(256)
    assert queued.saturated
    assert queued.request_rate == pytest.approx(fits.request_rate, rel=0.01)
    assert queued.ttft["p50"] > 10 * fits.ttft["p50"]


def test_think_time_lowers_the_load(replica: Replica) -> None:
    assert replica.at_users(64, think_time=30).tpot["p50"] < replica.at_users(64).tpot["p50"]
