"""The aiohttp application of the simulated server: routes, API key, errors.

Routes: ``GET /v1/models``, ``POST /v1/completions``, ``POST /v1/chat/completions``,
``POST /v1/embeddings``, ``GET /health``, ``GET /metrics``. With an API key configured, the ``/v1``
routes require ``Authorization: Bearer <key>`` (as vLLM does); /health and /metrics stay open.
"""

from __future__ import annotations

import hmac
import time

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from mlway.bench.simserver.config import SimServerConfig
from mlway.bench.simserver.embeddings import embeddings
from mlway.bench.simserver.generate import chat_completions, completions
from mlway.bench.simserver.http_errors import error_middleware, error_response
from mlway.bench.simserver.state import STATE, SimState

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request body accepted (long prompts); larger ones get 413."""


def _auth_middleware(api_key: str) -> Middleware:
    expected = f"Bearer {api_key}".encode()

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1"):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                what = "a wrong API key" if given else "no API key"
                return error_response(401, f"the request carried {what}: send the header 'Authorization: Bearer <key>'")
        return await handler(request)

    return check_key


async def _models(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    model = {
        "id": config.model,
        "object": "model",
        "created": request.app[_STARTED],
        "owned_by": "mlway",
        "root": config.model,
        "parent": None,
        "max_model_len": config.kv_cache_tokens,
    }
    return web.Response(body=orjson.dumps({"object": "list", "data": [model]}), content_type="application/json")


async def _health(_request: web.Request) -> web.Response:
    return web.Response()


async def _metrics(request: web.Request) -> web.Response:
    metrics = request.app[STATE].metrics
    return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})


_STARTED = web.AppKey("mlway_sim_started", int)


def build_app(config: SimServerConfig) -> web.Application:
    """A ready-to-run aiohttp application serving ``config``."""
    middlewares: list[Middleware] = [error_middleware]
    if config.api_key is not None:
        middlewares.append(_auth_middleware(config.api_key))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[STATE] = SimState(config)
    app[_STARTED] = int(time.time())
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/health", _health)
    app.router.add_get("/metrics", _metrics)
    return app
