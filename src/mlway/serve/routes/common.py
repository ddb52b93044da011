"""Response declarations the routes share (for the OpenAPI document)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {}}}}}
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route may answer."""
    descriptions = {
        400: "Bad request: the message says what was expected.",
        404: "No such model or version.",
        413: "Request body too large.",
        429: "The model's queue is full; retry later.",
        503: "The model has no serving variant right now.",
        504: "The request passed its deadline; the message names the setting.",
    }
    return {status: {"description": descriptions[status]} | ERROR_SCHEMA for status in statuses}
