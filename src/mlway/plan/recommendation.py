"""What a plan answers: ranked options, rejected ones with their reason, and a diagnosis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.plan.memory import MemoryBreakdown
from mlway.plan.workload import Workload

RejectKind = Literal["does not fit", "TTFT", "TPOT", "E2E", "cost", "unsupported"]


class Band(StrictModel):
    """A prediction with its uncertainty: low, central, high."""

    low: float
    mid: float
    high: float

    @classmethod
    def around(cls, value: float, uncertainty: float) -> Band:
        return cls(low=value * (1 - uncertainty), mid=value, high=value * (1 + uncertainty))


class Option(StrictModel):
    """One way to serve the workload."""

    rank: int = 0
    gpu: str
    tp: int
    replicas: int
    gpus: int = Field(description="tp x replicas")
    quant: str
    kv_dtype: str
    engine: str
    cost_per_hour: float = Field(description="USD per hour for all GPUs")
    cost_per_million_tokens: float = Field(description="USD per million output tokens at the target load")
    price_date: str
    memory: MemoryBreakdown
    batch_limit: int = Field(description="sequences one replica runs at once (max_num_seqs and KV)")
    load_per_replica: float = Field(description="users or req/s one replica serves")
    max_load_per_replica: float = Field(description="the most users or req/s one replica serves within the SLO")
    ttft: dict[str, Band] = Field(description="percentile -> seconds")
    tpot: dict[str, Band]
    e2e: dict[str, Band]
    output_tokens_per_s: Band = Field(description="all replicas at the target load")
    capacity_rps: Band = Field(description="requests per second all replicas finish at most")
    utilization: float = Field(description="share of the capacity the target load uses")
    headroom: float = Field(description="smallest (limit / predicted - 1) over the SLOs")
    binding: str = Field(description="the SLO with the least headroom")
    marginal: bool = Field(description="the pessimistic end of the band breaks an SLO")
    calibrated: bool = Field(description="a calibration profile of this (GPU, engine) was used")
    engine_command: str
    bench_command: str
    explanation: str


class Rejected(StrictModel):
    """An option that fails, with the constraint that binds."""

    gpu: str
    tp: int
    quant: str
    kind: RejectKind
    reason: str
    replicas: int | None = None
    value: float | None = Field(default=None, description="the predicted value that broke the limit")
    limit: float | None = None
    max_context: int | None = Field(default=None, description="longest context that fits (memory)")


class Plan(StrictModel):
    """The recommendation for one model and workload."""

    model: str
    params_b: float
    engine: str
    workload: Workload
    options: list[Option]
    rejected: list[Rejected]
    diagnosis: str | None = Field(default=None, description="why nothing fits and what would")
    searched: int = Field(description="GPU x TP x quantization combinations evaluated")
    elapsed_s: float

    @property
    def best(self) -> Option | None:
        return self.options[0] if self.options else None
