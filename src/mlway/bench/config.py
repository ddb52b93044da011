"""The exact configuration of a bench run, stored in run.json so a run can be repeated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from mlway.bench.lengths import LengthDist
from mlway.bench.summary import LoadSpec
from mlway.core.model import StrictModel


class BenchConfig(StrictModel):
    """Everything ``mlway bench run`` was asked to do."""

    url: str = Field(description="base URL of the OpenAI-compatible API, ending in /v1")
    model: str | None = Field(default=None, description="model id; default: the server's first model")
    endpoint: Literal["completions", "chat", "embeddings"] = "completions"
    stream: bool = Field(default=True, description="stream responses (SSE); TTFT needs streaming")
    api_key: str | None = Field(default=None, description="sent as 'Authorization: Bearer KEY'", repr=False)
    loads: list[LoadSpec] = Field(min_length=1, description="the load points, run in order")
    requests: int | None = Field(default=None, ge=1, description="measured requests per point")
    duration: float | None = Field(default=None, gt=0, description="seconds of sending per point")
    warmup: int | None = Field(
        default=None, ge=0, description="warm-up requests per point, excluded from statistics; "
        "default: one per user (closed loop) or one second of arrivals (open loop)",
    )  # fmt: skip
    think_time: float = Field(default=0.0, ge=0, description="closed loop: seconds a user waits between requests")
    drain: float = Field(default=60.0, ge=0, description="seconds in-flight requests may finish after the stop")
    input_tokens: str = Field(default="512", description="prompt tokens: 512, uniform:256-768, normal:512,64")
    output_tokens: str | None = Field(default="128", description="forced output tokens, same forms; None: server's")
    dataset: Path | None = Field(default=None, description="JSONL file of prompts or chat messages")
    shared_prefix_tokens: int = Field(default=0, ge=0, description="tokens every prompt shares at its start")
    salt: bool = Field(default=True, description="open prompts with a per-run random salt (no stale prefix cache)")
    tokenizer: Path | None = Field(default=None, description="local Hugging Face tokenizer directory")
    force_output: Literal["auto", "ignore_eos", "logit_bias", "none"] = "auto"
    eos_token_id: int | None = Field(default=None, ge=0, description="EOS token id for the logit_bias method")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="merged into every request body")
    slo: str | None = Field(default=None, description="SLO limits, e.g. ttft_p95=1s,tpot_p95=50ms")
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    request_timeout: float = Field(default=600.0, gt=0)
    metrics_interval: float = Field(default=0.5, gt=0, description="seconds between /metrics samples")
    seed: int = 0
    out: Path = Field(description="run directory")
    name: str | None = Field(default=None, description="display name of the run (default: out's name)")

    @field_validator("input_tokens", "output_tokens")
    @classmethod
    def _lengths(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:  # raises InputError naming the option and the accepted forms
            LengthDist.parse(value, what=f"--{(info.field_name or 'tokens').replace('_', '-')}")
        return value

    def warmup_for(self, load: LoadSpec) -> int:
        if self.warmup is not None:
            return self.warmup
        if load.mode == "concurrency":
            return load.concurrency or 1
        return max(1, round(load.rate or 1))
