"""POST /v1/ingest: a device's batch of records, stored once, acknowledged after the commit."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mlway.core.wire import MAX_BATCH_RECORDS, IngestAck, IngestBatch
from mlway.hub.auth import authenticate, check_same_device
from mlway.hub.body import decode, read_body, validate
from mlway.hub.errors import PayloadTooLargeError
from mlway.hub.state import HubState

router = APIRouter()


def _ingest(state: HubState, device: str, raw: bytes, encoding: str | None) -> IngestAck:
    started = time.perf_counter()
    document = decode(raw, encoding, state.settings.max_body_bytes)
    if isinstance(document, dict):
        check_same_device(device, document.get("device_id"))
        records = document.get("records")
        if isinstance(records, list) and len(records) > MAX_BATCH_RECORDS:
            raise PayloadTooLargeError(
                f"batch of {len(records)} records; the hub takes at most {MAX_BATCH_RECORDS} per batch",
                hint=f"send at most {MAX_BATCH_RECORDS} records per batch (the uplink's batch_records)",
            )
    batch = validate(IngestBatch, document)
    done = state.store.ingest(batch)
    metrics = state.metrics
    metrics.batches.inc()
    for kind, count in done.stored_by_type.items():
        metrics.stored.labels(kind).inc(count)
    metrics.duplicates.inc(done.ack.duplicates)
    metrics.conflicts.inc(done.conflicts)
    metrics.ingest_seconds.observe(time.perf_counter() - started)
    return done.ack


@router.post("/v1/ingest", response_model=IngestAck)
async def ingest(request: Request) -> IngestAck:
    state = HubState.of(request)
    device = await run_in_threadpool(authenticate, state.store, request.headers.get("authorization"))
    raw = await read_body(request, state.settings.max_body_bytes)
    return await run_in_threadpool(_ingest, state, device, raw, request.headers.get("content-encoding"))
