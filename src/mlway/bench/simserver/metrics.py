"""/metrics: vLLM-named gauges and counters, read from plain integers only when scraped.

Exposed (every series labelled ``model_name``):

- ``vllm:num_requests_running``, ``vllm:num_requests_waiting``: sequences in the batch / in the queue
  (in capacity mode, requests being written count as running);
- ``vllm:kv_cache_usage_perc``: KV-cache tokens in use over ``kv_cache_tokens``, from 0 to 1;
- ``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total``: tokens read and generated;
- ``vllm:request_success_total{finished_reason}``: requests completed, by ``stop`` / ``length``;
- ``mlway_sim_requests_total{endpoint,outcome}``: every request, by outcome (ok, invalid,
  fault, disconnected);
- ``mlway_sim_faults_total{kind}``: failures injected, by kind;
- ``mlway_sim_chunk_lateness_seconds``: histogram of how long after its scheduled time each write
  of streamed chunks was handed to the socket: the server's own timing error, so a client's
  measured error can be told apart from the server's (not observed in capacity mode).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from mlway.bench.simserver.config import SimServerConfig
from mlway.bench.simserver.engine import SimEngine

LATENESS_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0)
"""Upper bounds (s) of the lateness histogram's buckets."""


@dataclass(slots=True)
class Lateness:
    """A cumulative-bucket histogram cheap enough to observe every write."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENESS_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENESS_BUCKETS, seconds)] += 1
        self.total += seconds

    def family(self, model: list[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "mlway_sim_chunk_lateness_seconds", "Delay of each chunk write after its schedule.", labels=["model_name"]
        )
        bounds = [*(repr(b) for b in LATENESS_BUCKETS), "+Inf"]
        family.add_metric(model, list(zip(bounds, itertools.accumulate(self.counts), strict=True)), self.total)
        return family


@dataclass(slots=True)
class SimCounters:
    """Plain counters the handlers bump; cheap enough for the hot path."""

    in_flight_instant: int = 0
    """Capacity-mode requests being written (they never enter the engine)."""
    prompt_tokens: int = 0
    instant_generated_tokens: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lateness: Lateness = field(default_factory=Lateness)


class _SimCollector(Collector):
    def __init__(self, config: SimServerConfig, engine: SimEngine, counters: SimCounters) -> None:
        self._config, self._engine, self._counters = config, engine, counters

    def collect(self) -> Iterator[Metric]:
        engine, counters, model = self._engine, self._counters, [self._config.model]
        running = engine.running + counters.in_flight_instant
        usage = engine.kv_tokens_used / self._config.kv_cache_tokens
        yield _gauge("vllm:num_requests_running", "Requests in the running batch.", model, running)
        yield _gauge("vllm:num_requests_waiting", "Requests waiting to be admitted.", model, engine.waiting)
        yield _gauge("vllm:kv_cache_usage_perc", "KV-cache usage, 1 means full.", model, usage)
        generated = engine.generated_tokens + counters.instant_generated_tokens
        yield _counter("vllm:prompt_tokens", "Prompt tokens processed.", model, counters.prompt_tokens)
        yield _counter("vllm:generation_tokens", "Tokens generated.", model, generated)
        success = CounterMetricFamily(
            "vllm:request_success", "Requests finished.", labels=["model_name", "finished_reason"]
        )
        for reason in ("stop", "length"):
            success.add_metric([*model, reason], counters.finished[reason])
        yield success
        requests = CounterMetricFamily(
            "mlway_sim_requests", "Requests by outcome.", labels=["model_name", "endpoint", "outcome"]
        )
        for (endpoint, outcome), value in sorted(counters.requests.items()):
            requests.add_metric([*model, endpoint, outcome], value)
        yield requests
        faults = CounterMetricFamily("mlway_sim_faults", "Failures injected.", labels=["model_name", "kind"])
        for kind in self._config.failure_kinds:
            faults.add_metric([*model, kind], counters.faults[kind])
        yield faults
        yield counters.lateness.family(model)


def _gauge(name: str, doc: str, labels: list[str], value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["model_name"])
    family.add_metric(labels, value)
    return family


def _counter(name: str, doc: str, labels: list[str], value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=["model_name"])
    family.add_metric(labels, value)
    return family


class SimMetrics:
    """A registry of its own per app, so two servers in one process never share series."""

    content_type = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(self, config: SimServerConfig, engine: SimEngine, counters: SimCounters) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_SimCollector(config, engine, counters))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self._registry)
