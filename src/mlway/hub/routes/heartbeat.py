"""POST /v1/heartbeat: a device's health; the answer carries the hub's clock."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mlway.core.wire import Heartbeat, HeartbeatAck
from mlway.hub.auth import authenticate, check_same_device
from mlway.hub.body import decode, read_body, validate
from mlway.hub.state import HubState

router = APIRouter()


def _heartbeat(state: HubState, device: str, raw: bytes, encoding: str | None) -> HeartbeatAck:
    document = decode(raw, encoding, state.settings.max_body_bytes)
    if isinstance(document, dict):
        check_same_device(device, document.get("device_id"))
    heartbeat = validate(Heartbeat, document)
    state.store.heartbeat(heartbeat)
    state.metrics.heartbeats.inc()
    return HeartbeatAck(hub_wall=time.time())


@router.post("/v1/heartbeat", response_model=HeartbeatAck)
async def heartbeat(request: Request) -> HeartbeatAck:
    state = HubState.of(request)
    device = await run_in_threadpool(authenticate, state.store, request.headers.get("authorization"))
    raw = await read_body(request, state.settings.max_body_bytes)
    return await run_in_threadpool(_heartbeat, state, device, raw, request.headers.get("content-encoding"))
