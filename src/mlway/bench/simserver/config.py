"""The typed configuration of the simulated LLM server.

Durations are seconds; in JSON or Python they may also be written as ``"50ms"``, ``"1.5s"``.
All delays zero (``ttft``, ``itl``, ``prefill_per_token``) is *capacity mode*: the server writes
every chunk at once, for measuring how fast a load client can go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator

from mlway.core.errors import ConfigError, InputError
from mlway.core.model import StrictModel
from mlway.core.units import parse_duration

FailureKind = Literal["http_500", "http_429", "malformed_sse", "disconnect", "error_event"]
"""How an injected failure shows up to the client:

- ``http_500``, ``http_429``: the request is answered with that status and an OpenAI error body;
- ``malformed_sse``: half-way through the stream one event is not valid JSON (the stream goes on);
- ``disconnect``: half-way through, the server drops the connection without ``[DONE]``;
- ``error_event``: half-way through, the stream carries an error object, then ``[DONE]``.

Non-streamed requests get a body that is not JSON, a dropped connection, or a 500 respectively.
"""

FAILURE_KINDS: tuple[FailureKind, ...] = ("http_500", "http_429", "malformed_sse", "disconnect", "error_event")


def _seconds(value: object) -> object:
    """Accept ``"50ms"``-style strings for duration fields; pydantic checks the rest."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except InputError as exc:
            raise ValueError(f"{exc.message}: {exc.hint}" if exc.hint else exc.message) from exc
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class SimServerConfig(StrictModel):
    """How the simulated OpenAI-compatible server behaves: timing, batching, lengths, failures."""

    model: str = Field(
        default="mlway-sim", min_length=1, max_length=256, description="The model name served and required."
    )
    ttft: Seconds = Field(
        default=0.05, ge=0, le=600, description="Time from admission to the first token, before prefill (s)."
    )
    itl: Seconds = Field(
        default=0.01, ge=0, le=60, description="Time between two decode steps of one sequence, batch of one (s)."
    )
    prefill_per_token: Seconds = Field(
        default=0.0, ge=0, le=1, description="Extra time to first token per prompt token (s/token)."
    )
    max_batch: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Sequences generated at once (continuous batching); 1 queues requests like llama.cpp.",
    )
    batch_slowdown: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="Step-time growth per extra running sequence: step = itl*(1+batch_slowdown*(running-1)).",
    )
    kv_cache_tokens: int = Field(
        default=131_072,
        ge=1,
        le=1_000_000_000,
        description="KV-cache capacity in tokens; a sequence reserves prompt + output tokens while running.",
    )
    default_max_tokens: int = Field(
        default=256, ge=1, le=1_000_000, description="Output length when a request sets no max_tokens."
    )
    eos_probability: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Chance per token of stopping early unless ignore_eos is set; drawn from the seed and "
        "the prompt, so the same request always gets the same length. 0 = always max_tokens.",
    )
    tokens_per_chunk: int = Field(default=1, ge=1, le=4096, description="Tokens carried by each streamed chunk.")
    fail_rate: float = Field(default=0.0, ge=0, le=1, description="Fraction of generation requests that fail.")
    failure_kinds: list[FailureKind] = Field(
        default_factory=lambda: list(FAILURE_KINDS),
        min_length=1,
        description="Failure kinds drawn uniformly when a request fails: " + ", ".join(FAILURE_KINDS) + ".",
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="Seed of every random draw (lengths, failures).")
    api_key: str | None = Field(
        default=None, min_length=1, max_length=4096, description="If set, /v1 routes require 'Bearer <key>'."
    )
    embedding_dim: int = Field(
        default=384, ge=1, le=65_536, description="Length of the vectors /v1/embeddings returns."
    )
    precise_timing: bool = Field(
        default=True,
        description="Busy-wait the last millisecond before each deadline for sub-millisecond timing "
        "(costs up to 1 ms of CPU per wake-up); off, chunks may be ~1 ms early or late.",
    )

    @field_validator("failure_kinds")
    @classmethod
    def _unique_kinds(cls, kinds: list[FailureKind]) -> list[FailureKind]:
        return list(dict.fromkeys(kinds))

    @property
    def capacity_mode(self) -> bool:
        """All delays are zero: responses are written at once, with no scheduling at all."""
        return self.ttft == 0 and self.itl == 0 and self.prefill_per_token == 0


def validate_config(data: Mapping[str, object], *, names: Mapping[str, str] | None = None) -> SimServerConfig:
    """A config from plain values, or a :class:`ConfigError` naming each bad field and its value.

    ``names`` maps field names to what the user typed (``{"ttft": "--ttft"}`` for the CLI).
    """
    try:
        return SimServerConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"]) or "config"
            label = (names or {}).get(str(error["loc"][0]), path) if error["loc"] else path
            problems.append(f"{label} = {error.get('input')!r}: {error['msg']}")
        raise ConfigError(
            "invalid sim-server config: " + "; ".join(problems),
            hint="every field, its unit and its range: mlway bench sim-server --help",
        ) from exc
