"""``state_dir/status.json``: what the running agent is doing, rewritten atomically every second.

Written to a temporary file in the same directory, fsynced, then renamed over the old one, so a reader
(``mlway edge status``) never sees half a file and a power cut leaves the last complete one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from mlway.core.errors import InputError, NotFoundError
from mlway.core.model import StrictModel

AgentState = Literal["starting", "running", "stopping", "stopped", "failed"]
STATUS_FILE = "status.json"


class CameraStatus(StrictModel):
    source: str
    state: str = Field(description="starting, running, restarting, ended or stopped.")
    fps: float = Field(ge=0, description="Inferred frames per second over the last seconds.")
    target_fps: float | None = None
    frames_in: int = 0
    inferred: int = 0
    skipped: int = Field(default=0, description="Frames above the camera's target fps.")
    dropped: int = Field(default=0, description="Oldest frames dropped because inference was behind.")
    queued: int = 0
    restarts: int = 0
    last_frame_age_s: float | None = None
    last_error: str | None = None


class ModelInfo(StrictModel):
    name: str
    version: str
    variant: str
    threads: int
    isolation: str
    reason: str


class AlertStatus(StrictModel):
    sinks: list[str] = Field(default_factory=list)
    fired: int = 0
    delivered: int = 0
    failed: int = 0
    last_latency_ms: float | None = None
    max_latency_ms: float | None = None


class EventStatus(StrictModel):
    started: int = 0
    ended: int = 0
    open: int = 0
    urgent: int = 0
    refused: int = Field(default=0, description="Events the outbox could not store (disk full).")


class StoreStatus(StrictModel):
    path: str
    backlog_records: int = 0
    backlog_oldest_age_s: float = 0.0
    store_bytes: int = 0
    disk_free_bytes: int = 0
    dropped_summaries: int = 0


class UplinkInfo(StrictModel):
    url: str
    connected: bool = False
    last_sync_wall: float | None = None
    last_error: str | None = None
    sent_batches: int = 0
    acked_records: int = 0


class AgentStatus(StrictModel):
    """The document in status.json."""

    device_id: str
    pid: int
    state: AgentState
    started_wall: float
    updated_wall: float
    uptime_s: float
    model: ModelInfo | None = None
    scheduler: str = ""
    smoothing: str = Field(default="", description="Where the smoothing settings came from.")
    cameras: dict[str, CameraStatus] = Field(default_factory=dict)
    events: EventStatus = Field(default_factory=EventStatus)
    alerts: AlertStatus = Field(default_factory=AlertStatus)
    store: StoreStatus | None = None
    uplink: UplinkInfo | None = None
    faults: list[str] = Field(default_factory=list, description="Recent faults, newest last.")


def write_status(state_dir: Path, status: AgentStatus) -> Path:
    """Atomically replace ``state_dir/status.json``."""
    path = state_dir / STATUS_FILE
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".status-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(status.model_dump_json(indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_status(state_dir: Path) -> AgentStatus:
    """The last status the agent wrote in ``state_dir``."""
    path = state_dir / STATUS_FILE
    if not path.is_file():
        hint = "start the agent with `mlway edge run --config edge.yaml`, or give its --state-dir"
        raise NotFoundError(f"no agent status at {path}", hint=hint)
    try:
        return AgentStatus.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise InputError(f"cannot read {path}: {exc}".splitlines()[0]) from exc


def is_stale(status: AgentStatus, *, now: float | None = None, every_s: float = 1.0) -> bool:
    """Whether a 'running' status has not been rewritten for a while (the agent died without stopping)."""
    now = time.time() if now is None else now
    return status.state in {"starting", "running", "stopping"} and now - status.updated_wall > max(5.0, 5 * every_s)
