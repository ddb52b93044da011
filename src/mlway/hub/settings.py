"""The settings of one hub process (``mlway hub start`` options; environment ``MLWAY_HUB_*`` via the CLI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mlway.core.model import StrictModel

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


class HubSettings(StrictModel):
    data: Path = Field(description="The hub's SQLite database file (created on first start).")
    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(default=8700, ge=0, le=65535, description="TCP port (0: any free port).")
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="Largest request body, after gzip decompression (413 above).",
    )
