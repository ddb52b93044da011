"""GET /v1/fleet: every device with a valid token, its last contact, latest heartbeat and record counts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mlway.core.wire import Fleet
from mlway.hub.state import HubState

router = APIRouter()


@router.get("/v1/fleet", response_model=Fleet)
async def fleet(request: Request) -> Fleet:
    return await run_in_threadpool(HubState.of(request).store.fleet)
