"""Settings of one ``mlway serve`` process, and per-model serving settings read beside each bundle.

Server-wide settings come from the command line (or ``ServeSettings(...)`` in code). A bundle may
carry ``mlway-serve.yaml`` next to its manifest to override the batching and the deadline for that
model::

    max_batch_size: 16     # items (rows or texts) per inference call
    max_delay_ms: 2        # how long a free worker waits for a batch to fill
    timeout_ms: 5000       # a request's deadline, from arrival to answer
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from mlway.core.errors import ConfigError
from mlway.core.model import StrictModel

MODEL_SETTINGS_FILE = "mlway-serve.yaml"


class ServeSettings(StrictModel):
    """How the server listens, batches, waits and bounds what clients send."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=255, description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port (0 picks a free one).")
    request_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Deadline of a request from arrival (--request-timeout)."
    )
    max_batch_size: int = Field(
        default=32, ge=1, le=4096, description="Items per inference call when a model's settings give none."
    )
    max_delay_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="How long a free worker waits for a batch to fill (0: send at once; requests that "
        "arrive while the worker is busy are batched anyway).",
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, le=1 << 31, description="Largest request body accepted (413 above)."
    )
    max_texts: int = Field(default=2048, ge=1, le=100_000, description="Most texts in one embeddings request.")
    max_text_chars: int = Field(
        default=100_000, ge=1, le=10_000_000, description="Longest text accepted (tokens past the model's max are cut)."
    )
    preprocess_threads: int = Field(
        default=2, ge=1, le=64, description="Threads that tokenize and pool text off the event loop."
    )


class ModelServeSettings(StrictModel):
    """Per-model overrides read from ``mlway-serve.yaml`` beside a bundle's manifest."""

    max_batch_size: int | None = Field(default=None, ge=1, le=65536, description="Items per inference call.")
    max_delay_ms: float | None = Field(
        default=None, ge=0, le=10_000, description="How long a free worker waits for a batch to fill."
    )
    timeout_ms: float | None = Field(
        default=None, gt=0, le=3_600_000, description="A request's deadline, from arrival to answer."
    )


def read_model_settings(bundle_dir: Path) -> ModelServeSettings:
    """The bundle's ``mlway-serve.yaml``, or defaults when there is none; errors name the field."""
    path = bundle_dir / MODEL_SETTINGS_FILE
    if not path.is_file():
        return ModelServeSettings()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of fields, not {type(data).__name__}")
    try:
        return ModelServeSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}", hint="fields: max_batch_size, max_delay_ms, timeout_ms") from exc
