"""GET /v1/events: events as the hub knows them (latest state of each), newest start first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlway.core.wire import EventList
from mlway.hub.state import HubState
from mlway.hub.store import MAX_EVENTS_LIMIT

router = APIRouter()


@router.get("/v1/events", response_model=EventList)
async def events(
    request: Request,
    *,
    device: Annotated[str | None, Query(max_length=63, description="Only this device.")] = None,
    label: Annotated[str | None, Query(max_length=64, description="Only this label.")] = None,
    since: Annotated[float | None, Query(ge=0, description="Only events that started at or after (epoch s).")] = None,
    state: Annotated[Literal["open", "ended"] | None, Query(description="Only open or ended events.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_LIMIT, description="At most this many.")] = 100,
) -> EventList:
    hub = HubState.of(request)
    found = await run_in_threadpool(
        lambda: hub.store.events(device=device, label=label, since=since, state=state, limit=limit)
    )
    return EventList(events=found)
