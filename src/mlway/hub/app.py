"""The hub's ASGI application: routes, and every error as JSON ``{"error", "hint", "fields"}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mlway.core.errors import MlwayError
from mlway.hub.errors import InvalidBodyError
from mlway.hub.metrics import ENDPOINTS, HubMetrics
from mlway.hub.routes import events, fleet, health, heartbeat, ingest
from mlway.hub.settings import HubSettings
from mlway.hub.state import HubState
from mlway.hub.store import HubStore

log = logging.getLogger(__name__)


def _endpoint(request: Request) -> str | None:
    name = request.url.path.removeprefix("/v1/")
    return name if name in ENDPOINTS else None


def _refuse(request: Request, status: int, body: dict[str, Any]) -> JSONResponse:
    endpoint = _endpoint(request)
    if endpoint is not None:
        HubState.of(request).metrics.rejected.labels(endpoint, str(status)).inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _mlway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MlwayError)
    body: dict[str, Any] = {"error": exc.message, "hint": exc.hint}
    if isinstance(exc, InvalidBodyError):
        body["fields"] = [{"field": p.field, "message": p.message} for p in exc.fields]
    if exc.http_status >= 500:
        log.error("request %s failed: %s", request.url.path, exc)
    return _refuse(request, exc.http_status, body)


async def _query_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]} for error in exc.errors()
    ]
    first = fields[0] if fields else {"field": "(request)", "message": "invalid"}
    message = f"invalid request: {first['field']}: {first['message']}"
    return _refuse(request, 422, {"error": message, "hint": "see GET /docs for the parameters", "fields": fields})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _refuse(request, exc.status_code, {"error": str(exc.detail), "hint": "see GET /docs for the endpoints"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("request %s failed", request.url.path, exc_info=exc)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}", "hint": "see the hub's log"}, 500)


def create_app(settings: HubSettings, store: HubStore) -> FastAPI:
    """The hub over an open store (the caller owns the store and closes it after the server stops)."""
    app = FastAPI(title="mlway hub", version="1", summary="Ingest of edge device records; events and fleet status.")
    app.state.hub = HubState(settings=settings, store=store, metrics=HubMetrics(store))
    for module in (ingest, heartbeat, events, fleet, health):
        app.include_router(module.router)
    app.add_exception_handler(MlwayError, _mlway_error)
    app.add_exception_handler(RequestValidationError, _query_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    return app
