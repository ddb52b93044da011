"""KServe v2 health: GET /v2/health/live and /v2/health/ready (200 true, 400 false, as the protocol says)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlway.serve.responses import JSON
from mlway.serve.state import state_of

router = APIRouter(tags=["health"])


@router.get("/v2/health/live", summary="The server process is up.")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", summary="Every model has finished loading and at least one serves.")
async def ready(request: Request) -> Response:
    status = state_of(request).host.status()
    loading = [m.name for m in status.models if m.state in {"loading", "recovering"}]
    serving = [m.name for m in status.models if m.state == "ready"]
    if loading or not serving:
        reason = f"loading: {', '.join(loading)}" if loading else "no model serves; see GET /v2/models for why"
        return JSON({"ready": False, "reason": reason}, status_code=400)
    return JSON({"ready": True})
