"""The edge <-> hub wire schemas: round trips, and the refusals a hub relies on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlway.core.clock import MIN_TRUSTED_WALL, Stamp, boot_id, wall_trusted
from mlway.core.wire import MAX_BATCH_RECORDS, Clock, EventRecord, IngestBatch, SummaryRecord


def clock(wall: float = MIN_TRUSTED_WALL + 1) -> Clock:
    return Clock(wall=wall, mono=12.5, boot_id="b1", trusted=wall_trusted(wall))


def event(seq: int) -> EventRecord:
    return EventRecord(
        seq=seq, clock=clock(), event_id="e1", kind="start", label="unloading", source="auger",
        start_wall=1.0, time_wall=2.0, confidence=0.9, peak=0.95, frames=4,
    )  # fmt: skip


def test_batch_round_trips_with_mixed_record_types() -> None:
    batch = IngestBatch(device_id="combine-07", records=[event(1), SummaryRecord(seq=2, clock=clock(), period_s=60)])
    back = IngestBatch.model_validate_json(batch.model_dump_json())
    assert [type(r).__name__ for r in back.records] == ["EventRecord", "SummaryRecord"]
    assert back == batch


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "../etc"}, "device_id"),
        ({"records": []}, "records"),
        ({"wire_version": 2}, "wire_version"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_batches_name_the_field(change: dict[str, object], field: str) -> None:
    data = IngestBatch(device_id="combine-07", records=[event(1)]).model_dump() | change
    with pytest.raises(ValidationError) as info:
        IngestBatch.model_validate(data)
    assert field in str(info.value)


def test_batch_size_is_bounded() -> None:
    with pytest.raises(ValidationError, match="records"):
        IngestBatch(device_id="d", records=[event(i + 1) for i in range(MAX_BATCH_RECORDS + 1)])


def test_sequence_numbers_start_at_one() -> None:
    with pytest.raises(ValidationError, match="seq"):
        event(0)


def test_a_1970_clock_is_not_trusted_and_stamps_carry_the_boot() -> None:
    assert not wall_trusted(3600.0)
    stamp = Stamp.now()
    assert stamp.trusted
    assert stamp.boot_id == boot_id() != ""
    assert stamp.rebased(100.0) == stamp.mono + 100.0
