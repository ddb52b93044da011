"""The one place errors become HTTP responses.

Every mlway error carries its status (``http_status``): client mistakes are 4xx with a message that
says what was expected, overload 429, a passed deadline 504, an unavailable model 503. Bodies follow
the protocol of the route: KServe v2 ``{"error": "..."}``; OpenAI ``{"error": {"message", "type",
"code"}}``. Request-shape errors found by FastAPI become 400 with one line per field.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from mlway.core.errors import MlwayError
from mlway.serve.responses import JSON

log = logging.getLogger(__name__)

_OPENAI_TYPES = {400: "invalid_request_error", 404: "not_found_error", 413: "invalid_request_error"}
_OPENAI_TYPES |= {429: "rate_limit_error", 503: "service_unavailable", 504: "timeout"}


def error_response(request: Request, status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    if request.url.path.startswith("/v1/"):
        body: dict[str, Any] = {
            "error": {"message": message, "type": _OPENAI_TYPES.get(status, "server_error"), "code": status}
        }
    else:
        body = {"error": message}
    return JSON(body, status_code=status, headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """``body.inputs.0.datatype: Input should be 'BOOL', ...`` one per problem, at most eight."""
    lines = []
    for error in list(errors)[:8]:
        location = ".".join(str(part) for part in error.get("loc", ()))
        if error.get("type") == "json_invalid":
            lines.append(f"malformed JSON at {location}: {error.get('ctx', {}).get('error', error.get('msg'))}")
        else:
            lines.append(f"{location}: {error.get('msg')}")
    more = len(errors) - len(lines)
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into responses."""

    async def mlway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MlwayError)
        status = exc.http_status
        if status >= 500 and status not in {503, 504}:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": "1"} if status in {429, 503} else None
        return error_response(request, status, str(exc).replace("\n  hint: ", "; hint: "), headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 400, "invalid request: " + describe_validation(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(request, exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    app.add_exception_handler(MlwayError, mlway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
