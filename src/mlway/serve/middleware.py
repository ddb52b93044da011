"""ASGI middleware: refuse bodies over a size limit (413) before they are read whole; read POST bodies as JSON.

Every POST route here takes JSON, and ``curl -d @req.json`` sends ``application/x-www-form-urlencoded``
unless told otherwise, so a POST without a JSON content type is read as JSON (a malformed body is then a
400 that says so, never a silent form parse).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _message(max_bytes: int) -> str:
    return f"request body over the {max_bytes} byte limit; send smaller batches or raise the server's --max-body-bytes"


class _TooLarge(HTTPException):
    """Raised from ``receive``; FastAPI passes HTTPExceptions through its body parsing to the handler."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=_message(max_bytes))


class BodyLimit:
    """413 when Content-Length, or the bytes actually received, exceed ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = _message(self.max_bytes)
        path: str = scope.get("path", "")
        body: dict[str, Any] = (
            {"error": {"message": message, "type": "invalid_request_error", "code": 413}}
            if path.startswith("/v1/")
            else {"error": message}
        )
        payload = orjson.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


_FORM = (b"application/x-www-form-urlencoded", b"text/plain")


class JsonBodies:
    """Treat a POST body sent without a content type, as a form or as plain text, as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
            content_type = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
            if not content_type or content_type.split(b";")[0].strip().lower() in _FORM:
                scope = dict(scope)
                scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


class EarlyOverload:
    """429 for a KServe infer request to a model whose queue is full, before its body is read or parsed.

    A flood of requests to one model then costs the event loop little more than the HTTP exchange,
    so its neighbours keep their latency. (OpenAI requests name the model inside the body: they are
    refused by the batcher after parsing.)
    """

    def __init__(self, app: ASGIApp, refuse: Callable[[str], str | None]) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            match = _INFER.match(scope.get("path", ""))
            message = self.refuse(match.group(1)) if match else None
            if message is not None:
                payload = orjson.dumps({"error": message})
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"retry-after", b"1"),
                ]
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
        await self.app(scope, receive, send)


_INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/[^/]+)?/infer$")
