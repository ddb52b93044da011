"""Settings of a model host: deadlines, watchdog, restart policy. Every wait has one."""

from __future__ import annotations

from pydantic import Field

from mlway.core.model import StrictModel


class HostSettings(StrictModel):
    """How a :class:`ModelHost` waits, watches and recovers."""

    request_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Deadline of a request when the caller gives none."
    )
    load_timeout_s: float = Field(default=120.0, gt=0, le=3600, description="Longest a variant may take to load.")
    drain_timeout_s: float = Field(
        default=30.0, ge=0, le=3600, description="How long a swapped-out worker may finish its requests."
    )
    watchdog_interval_s: float = Field(
        default=0.05, ge=0.005, le=5, description="How often each worker's RSS is read against its quota."
    )
    max_restarts: int = Field(
        default=2, ge=0, le=100, description="Crash restarts of one variant within restart_window_s before the next."
    )
    restart_window_s: float = Field(default=300.0, gt=0, le=86400, description="Window for counting restarts.")
    address_space_limit: bool = Field(
        default=True, description="Cap each worker's address space (RLIMIT_AS) as a backstop to the RSS watchdog."
    )
    verify_sha256: bool = Field(default=True, description="Check artefacts against their sha256 before loading.")
