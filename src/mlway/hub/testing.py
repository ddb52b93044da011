"""For tests: a real hub process (``start_hub``, from ``mlway.hub.process``) and record builders.

Usage: ``with start_hub(tmp_path / "hub.db") as hub:``, then ``hub.add_device("combine-07")`` for a token
and ``ingest_body("combine-07", [event_record(1), summary_record(2)])`` for a ``POST /v1/ingest`` body.
"""

from __future__ import annotations

from typing import Literal

from mlway.core.clock import Stamp
from mlway.core.wire import Clock, EventRecord, IngestBatch, SummaryRecord
from mlway.hub.process import READY_TIMEOUT_S, RunningHub, free_port, start_hub

__all__ = ["READY_TIMEOUT_S", "RunningHub", "event_record", "free_port", "ingest_body", "stamp_clock",
           "start_hub", "summary_record"]  # fmt: skip


def stamp_clock() -> Clock:
    now = Stamp.now()
    return Clock(wall=now.wall, mono=now.mono, boot_id=now.boot_id, trusted=now.trusted)


def event_record(
    seq: int,
    *,
    event_id: str = "e1",
    kind: Literal["start", "update", "end"] = "start",
    label: str = "unloading",
    confidence: float = 0.9,
    start_wall: float = 1_800_000_000.0,
    clock: Clock | None = None,
) -> EventRecord:
    """A valid event record (``end`` records get an ``end_wall``)."""
    return EventRecord(
        seq=seq,
        clock=clock or stamp_clock(),
        event_id=event_id,
        kind=kind,
        label=label,
        source="auger",
        start_wall=start_wall,
        time_wall=start_wall + seq,
        end_wall=start_wall + seq if kind == "end" else None,
        confidence=confidence,
        peak=max(confidence, 0.95),
        frames=seq,
    )


def summary_record(seq: int) -> SummaryRecord:
    return SummaryRecord(seq=seq, clock=stamp_clock(), period_s=60.0)


def ingest_body(device: str, records: list[EventRecord | SummaryRecord]) -> bytes:
    """The JSON body of ``POST /v1/ingest``."""
    return IngestBatch(device_id=device, records=records).model_dump_json().encode()
