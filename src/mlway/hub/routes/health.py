"""GET /healthz (the database answers) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from mlway.hub.state import HubState

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    state = HubState.of(request)
    version = await run_in_threadpool(state.store.schema_version)
    return {"status": "ok", "schema_version": version}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(HubState.of(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
