"""The result schema of a bench run: what ``run.json`` holds and what reports and peers read.

A run directory (``--out runs/vllm``) holds:

    run.json                  RunResult: config, environment, one PointSummary per load point
    summary.csv               one row per load point (the main statistics)
    report.html               plots and tables, readable offline
    points/<label>/requests.jsonl   one RequestRecord per line (see records.py)

``mlway plan calibrate`` reads ``run.json`` files; keep this schema backward compatible.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mlway.core.model import StrictModel

SCHEMA_VERSION = 1


class Distribution(StrictModel):
    """Statistics of one metric over the steady-state window's successful requests."""

    count: int = Field(ge=0)
    mean: float
    std: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float


class LoadSpec(StrictModel):
    """The load of one point: closed loop (concurrency) or open loop (rate)."""

    mode: Literal["concurrency", "rate"]
    concurrency: int | None = Field(default=None, ge=1, description="closed loop: simultaneous users")
    rate: float | None = Field(default=None, gt=0, description="open loop: target requests per second")
    arrival: Literal["constant", "poisson", "gamma"] | None = None
    burstiness: float | None = Field(default=None, gt=0, description="gamma shape; 1 = Poisson")
    max_concurrency: int | None = Field(default=None, ge=1, description="open loop: in-flight cap")

    @property
    def label(self) -> str:
        if self.mode == "concurrency":
            return f"c{self.concurrency}"
        return f"r{self.rate:g}"


class SloResult(StrictModel):
    """How a point fared against the SLO limits the user gave."""

    limits: dict[str, float] = Field(description="metric_percentile -> limit in seconds, e.g. ttft_p95")
    observed: dict[str, float] = Field(description="the same keys: the observed value")
    passed: bool = Field(description="every observed percentile is within its limit")
    attainment: float = Field(description="share of requests meeting every per-request limit")
    goodput: float = Field(description="requests per second meeting every per-request limit")


class PointSummary(StrictModel):
    """The statistics of one load point."""

    label: str
    load: LoadSpec
    requests: int = Field(description="measured requests (warm-up excluded)")
    ok: int
    warmup: int
    errors: dict[str, int] = Field(default_factory=dict, description="error kind -> count")
    duration_s: float = Field(description="first measured send to last measured end")
    request_rate: float = Field(description="ok requests / duration_s")
    output_token_rate: float = Field(description="sum of completion tokens / duration_s")
    total_token_rate: float = Field(description="sum of prompt + completion tokens / duration_s")
    target_rate: float | None = None
    send_rate: float | None = Field(default=None, description="achieved sending rate (open loop)")
    metrics: dict[str, Distribution] = Field(
        default_factory=dict,
        description="ttft, tpot, itl, e2e, queue_time (seconds); input_tokens, output_tokens (tokens)",
    )
    tokens_source: dict[str, int] = Field(default_factory=dict, description="source -> request count")
    slo: SloResult | None = None
    server_metrics: dict[str, Distribution] = Field(
        default_factory=dict, description="sampled Prometheus gauges: running, waiting, kv_cache_usage"
    )
    server_metric_samples: list[dict[str, float]] = Field(
        default_factory=list, description="time series: {'t': s, 'running': n, ...}"
    )
    warnings: list[str] = Field(default_factory=list)
    records_path: str = Field(description="relative path of requests.jsonl inside the run directory")


class SearchTrial(StrictModel):
    """One trial of an SLO search."""

    load: float
    passed: bool
    binding: str | None = Field(default=None, description="the limit that failed, e.g. 'ttft_p95 1.8s > 1s'")


class SearchSummary(StrictModel):
    """The answer of ``mlway bench slo``: the highest load that met the SLO."""

    mode: Literal["rate", "concurrency"]
    slo: str
    answer: float | None = Field(description="highest passing rate (req/s) or concurrency; None: none passed")
    bracket: tuple[float | None, float | None] = Field(description="(highest pass, lowest fail)")
    trials: list[SearchTrial] = Field(default_factory=list)


class RunResult(StrictModel):
    """Everything ``run.json`` holds."""

    schema_version: int = SCHEMA_VERSION
    name: str
    started_at: str = Field(description="ISO 8601 wall-clock time of the run's clock zero")
    finished_at: str | None = None
    interrupted: bool = False
    config: dict[str, Any] = Field(description="the exact run configuration")
    environment: dict[str, Any] = Field(description="mlway version, python, host, cpu, server info")
    formulas: dict[str, str] = Field(default_factory=dict, description="metric -> how it is computed")
    points: list[PointSummary] = Field(default_factory=list)
    search: SearchSummary | None = None
