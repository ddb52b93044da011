"""Prometheus metrics of one server: requests, latency, batches, queues, and each worker's memory and CPU.

    mlway_requests_total{model,endpoint,status}                      counter
    mlway_request_duration_seconds{model,variant,endpoint}           histogram, arrival to answer
    mlway_batch_size{model,variant}                                  histogram, items per inference call
    mlway_batch_duration_seconds{model,variant}                      histogram, one call to the worker
    mlway_queue_depth{model}                                         requests waiting for a worker slot
    mlway_batches_running{model}                                     batches being inferred
    mlway_model_ready{model,variant}                                 1 when a variant serves
    mlway_worker_rss_bytes{model,variant}                            resident memory of the worker
    mlway_worker_memory_limit_bytes{model}                           its quota (the watchdog's limit)
    mlway_worker_cpu_seconds_total{model,variant}                    user+system CPU of the worker
    mlway_worker_restarts_total{model}                               restarts after crashes

Unknown model names are counted as model="_unknown", so clients cannot grow the label set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mlway.runtime import ModelHost
from mlway.serve.model import ServedModel

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _cpu_seconds(pid: int) -> float | None:
    try:
        import psutil  # noqa: PLC0415 - part of the serve extra; imported where it is used

        times = psutil.Process(pid).cpu_times()
    except Exception:  # noqa: BLE001 - a worker that just ended has no reading
        return None
    return float(times.user + times.system)


class _HostCollector(Collector):
    def __init__(self, host: ModelHost, models: Callable[[], Mapping[str, ServedModel]]) -> None:
        self.host = host
        self.models = models

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("mlway_queue_depth", "Requests waiting for a worker slot.", labels=["model"])
        running = GaugeMetricFamily("mlway_batches_running", "Batches being inferred.", labels=["model"])
        ready = GaugeMetricFamily("mlway_model_ready", "1 when a variant serves.", labels=["model", "variant"])
        rss = GaugeMetricFamily("mlway_worker_rss_bytes", "Worker resident memory.", labels=["model", "variant"])
        limit = GaugeMetricFamily("mlway_worker_memory_limit_bytes", "Worker memory quota.", labels=["model"])
        cpu = CounterMetricFamily("mlway_worker_cpu_seconds", "Worker CPU time.", labels=["model", "variant"])
        restarts = CounterMetricFamily("mlway_worker_restarts", "Worker restarts after crashes.", labels=["model"])
        served = self.models()
        for status in self.host.status().models:
            variant = status.variant or "none"
            model = served.get(status.name)
            if model is not None:
                depth.add_metric([status.name], model.depth)
                running.add_metric([status.name], model.tensors.running + model.texts.running)
            ready.add_metric([status.name, variant], 1.0 if status.state == "ready" and status.variant else 0.0)
            limit.add_metric([status.name], status.memory_limit)
            restarts.add_metric([status.name], status.restarts)
            if status.pid is not None:
                rss.add_metric([status.name, variant], status.rss_bytes)
                seconds = _cpu_seconds(status.pid)
                if seconds is not None:
                    cpu.add_metric([status.name, variant], seconds)
        yield from (depth, running, ready, rss, limit, cpu, restarts)


class ServeMetrics:
    """The server's registry (its own, so several servers in one process do not collide)."""

    def __init__(self, host: ModelHost, models: Callable[[], Mapping[str, ServedModel]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mlway_requests", "Requests by model, endpoint and status.", ["model", "endpoint", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "mlway_request_duration_seconds", "Request latency, arrival to answer.", ["model", "variant", "endpoint"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "mlway_batch_size", "Items per inference call.", ["model", "variant"],
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "mlway_batch_duration_seconds", "One inference call to the worker.", ["model", "variant"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._models = models
        self.registry.register(_HostCollector(host, models))

    def observe_batch(self, model: str, variant: str, items: int, seconds: float) -> None:
        self.batch_size.labels(model, variant).observe(items)
        self.batch_seconds.labels(model, variant).observe(seconds)

    def observe_request(self, model: str, endpoint: str, status: int, seconds: float) -> None:
        served = self._models().get(model)
        label = model if served is not None else "_unknown"
        self.requests.labels(label, endpoint, str(status)).inc()
        if served is not None and status < 400:
            self.latency.labels(label, served.variant(), endpoint).observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
