"""OpenAI-style error bodies, and the middleware that maps mlway errors to them.

Every error the sim answers with has the body
``{"error": {"message": ..., "type": ..., "param": null, "code": ...}}``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from mlway.core.errors import MlwayError, NotFoundError

log = logging.getLogger(__name__)

_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
_SERVER_KIND = ("server_error", "internal_error")


def error_payload(status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    """The OpenAI error object for an HTTP status; ``code`` overrides the status's usual code."""
    kind, usual = _KINDS.get(status, _SERVER_KIND if status >= 500 else ("invalid_request_error", "invalid"))
    return {"error": {"message": message, "type": kind, "param": None, "code": code or usual}}


def error_response(status: int, message: str, *, code: str | None = None) -> web.Response:
    body = orjson.dumps(error_payload(status, message, code=code))
    return web.Response(status=status, body=body, content_type="application/json")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request boundary: mlway errors and aiohttp's own 4xx become OpenAI error bodies."""
    try:
        return await handler(request)
    except NotFoundError as exc:  # the only named thing here is the model
        return error_response(exc.http_status, str(exc), code="model_not_found")
    except MlwayError as exc:
        return error_response(exc.http_status, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, f"{exc.reason}: {request.method} {request.path}")
    except Exception:  # request boundary: log and answer 500 rather than drop the connection
        log.exception("sim server failed on %s %s", request.method, request.path)
        return error_response(500, "internal error in the simulated server (see its log)")
