"""GET /metrics: Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from mlway.serve.state import state_of

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics.", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(state_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
