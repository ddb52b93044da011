"""The edge <-> hub wire schemas (version 1): what a device uploads and what the hub answers.

Both sides import these models, so they cannot drift apart; the hub never imports the edge.

Endpoints (hub, JSON bodies; a request body may be gzip-compressed with ``Content-Encoding: gzip``)::

    POST /v1/ingest      IngestBatch  -> IngestAck     Authorization: Bearer <device token>
    POST /v1/heartbeat   Heartbeat    -> HeartbeatAck  Authorization: Bearer <device token>
    GET  /v1/events      ?device=&label=&since=&limit=  -> EventList     (operator token or open, per hub config)
    GET  /v1/fleet       -> Fleet

Idempotency: a record is identified by ``(device_id, seq)``; ``seq`` is the device's outbox sequence
number, strictly increasing over the device's life (it survives reboots: it lives in the outbox
database). The hub stores a record once; a repeat of a stored ``(device_id, seq)`` is acknowledged
as a duplicate and not stored again. The hub acknowledges only after its transaction committed, and the
device deletes a record from its outbox only after that acknowledgement. A batch whose ``device_id``
differs from the token's device is refused (403): a device writes only as itself.

Times: every record carries the device's wall time, monotonic time and boot id (``mlway.core.clock``);
``clock_trusted`` says whether the wall clock looked set when the record was written.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from mlway.core.model import StrictModel

WIRE_VERSION: Literal[1] = 1
MAX_BATCH_RECORDS = 5000
"""The most records one ingest batch may carry (a hub answers 413 above it)."""

DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", description="Device name.")]
Seq = Annotated[int, Field(ge=1, le=2**62, description="Outbox sequence number, strictly increasing per device.")]


class Clock(StrictModel):
    """When a record was written, by the device's clocks."""

    wall: float = Field(ge=0, description="Seconds since the epoch by the device clock (1970-based if unset).")
    mono: float = Field(ge=0, description="Monotonic seconds of this boot.")
    boot_id: str = Field(min_length=1, max_length=64)
    trusted: bool = Field(description="Whether the wall clock looked set (not 1970).")


class EventRecord(StrictModel):
    """One change of one event (start, update or end), as the edge smoother emitted it."""

    type: Literal["event"] = "event"
    seq: Seq
    clock: Clock
    event_id: str = Field(min_length=1, max_length=128, description="Stable over the event's start/update/end.")
    kind: Literal["start", "update", "end"]
    label: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=128, description="Camera (or stream) name.")
    start_wall: float = Field(ge=0, description="Wall time of the event's first frame.")
    time_wall: float = Field(ge=0, description="Wall time of the frame that caused this update.")
    end_wall: float | None = Field(default=None, ge=0, description="end only: wall time of the last frame.")
    start_s: float | None = Field(
        default=None,
        ge=0,
        description="Stream time of the first frame: seconds on the camera's own clock "
        "(for a recording, the position in the file), exact where wall times are estimates.",
    )
    end_s: float | None = Field(default=None, ge=0, description="end only: stream time of the last frame.")
    confidence: float = Field(ge=0, le=1)
    peak: float = Field(ge=0, le=1)
    frames: int = Field(ge=0)
    unsure: bool = False
    urgent: bool = Field(default=False, description="Whether the label is urgent (fired a local alert).")
    model_version: str = Field(default="", max_length=128)
    interrupted: bool = Field(
        default=False,
        description="end only: the agent stopped (power cut, crash, kill) while the event was open; the end was "
        "written when the agent started again, at the event's last recorded frame.",
    )

    @model_validator(mode="after")
    def _interrupted_ends_only(self) -> Self:
        if self.interrupted and self.kind != "end":
            raise ValueError(f"interrupted is for kind 'end' only (got {self.kind!r})")
        return self


class CameraSummary(StrictModel):
    """A camera's counters over one summary period."""

    frames_in: int = Field(ge=0, description="Frames the source delivered.")
    frames_inferred: int = Field(ge=0)
    frames_dropped: int = Field(ge=0, description="Frames skipped by the scheduler (behind or over budget).")
    fps: float = Field(ge=0, description="Inferred frames per second over the period.")
    top_labels: dict[str, int] = Field(default_factory=dict, description="Frames per smoothed top label.")
    restarts: int = Field(default=0, ge=0, description="Source restarts in the period.")


class SummaryRecord(StrictModel):
    """Periodic counters of the agent (dropped first when the device disk is full)."""

    type: Literal["summary"] = "summary"
    seq: Seq
    clock: Clock
    period_s: float = Field(gt=0, le=86400)
    cameras: dict[str, CameraSummary] = Field(default_factory=dict)
    model_version: str = Field(default="", max_length=128)


Record = Annotated[EventRecord | SummaryRecord, Field(discriminator="type")]


class IngestBatch(StrictModel):
    """Records of one device, in any order, sent together."""

    wire_version: Literal[1] = WIRE_VERSION
    device_id: DeviceId
    records: list[Record] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class IngestAck(StrictModel):
    """The hub committed these records (new or already stored): the device may delete them."""

    acked: list[int] = Field(description="Every seq of the batch, stored now or before.")
    stored: int = Field(ge=0, description="Records stored by this batch.")
    duplicates: int = Field(ge=0, description="Records the hub already had (not stored again).")


class Heartbeat(StrictModel):
    """The device's health, sent periodically and whenever a link appears."""

    wire_version: Literal[1] = WIRE_VERSION
    device_id: DeviceId
    clock: Clock
    model_version: str = Field(default="", max_length=128)
    cameras: dict[str, CameraSummary] = Field(default_factory=dict)
    backlog_records: int = Field(ge=0, description="Records in the outbox not yet acknowledged.")
    backlog_oldest_age_s: float = Field(ge=0, description="Age of the oldest unacknowledged record (0 if none).")
    disk_free_bytes: int = Field(ge=0)
    store_bytes: int = Field(ge=0, description="Size of the outbox database files.")
    dropped_summaries: int = Field(default=0, ge=0, description="Summaries dropped because the disk was full.")
    faults: list[str] = Field(default_factory=list, max_length=100, description="Recent faults, newest last.")


class HeartbeatAck(StrictModel):
    """The hub's answer: its own clock, so a device with an unset clock can estimate the offset."""

    hub_wall: float


class HubEvent(StrictModel):
    """One event as the hub knows it: the latest of its updates."""

    device_id: str
    event_id: str
    label: str
    source: str
    state: Literal["open", "ended"]
    start_wall: float
    end_wall: float | None
    start_s: float | None = None
    end_s: float | None = None
    confidence: float
    peak: float
    unsure: bool
    urgent: bool
    model_version: str
    updates: int = Field(ge=1)
    clock_trusted: bool
    interrupted: bool = Field(default=False, description="Ended at the agent's restart, not seen (see EventRecord).")


class EventList(StrictModel):
    events: list[HubEvent]


class DeviceStatus(StrictModel):
    device_id: str
    last_seen_wall: float | None = Field(description="Hub time of the last heartbeat or batch.")
    last_heartbeat: Heartbeat | None
    records: int = Field(ge=0, description="Records stored from this device.")
    last_seq: int = Field(ge=0)


class Fleet(StrictModel):
    devices: list[DeviceStatus]
