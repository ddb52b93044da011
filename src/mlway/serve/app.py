"""The FastAPI application: routes per resource, error handlers, the body limit, and the lifespan.

FastAPI (over Starlette) because it derives the OpenAPI document from the typed request models, which
documents the API and lets schemathesis fuzz it; the hot paths avoid its costs where they matter
(responses are written by orjson straight from numpy arrays).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from mlway import __version__
from mlway.serve import errors
from mlway.serve.binary import BinaryTensors
from mlway.serve.middleware import BodyLimit, EarlyOverload, JsonBodies
from mlway.serve.routes import health, infer, metrics, models, openai
from mlway.serve.state import ServerState


def create_app(state: ServerState) -> FastAPI:
    """An ASGI app serving ``state``'s models (the host must already be started)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for model in state.models.values():
            await model.close()

    app = FastAPI(
        title="mlway serve",
        version=__version__,
        description="KServe v2 (Open Inference Protocol) REST and OpenAI embeddings over mlway's model runtime.",
        lifespan=lifespan,
    )
    app.state.mlway = state
    for router in (health.router, models.router, infer.router, openai.router, metrics.router):
        app.include_router(router)
    errors.install(app)
    _document_models(app, state)
    app.add_middleware(BinaryTensors)  # inside EarlyOverload: a full queue refuses before the body is read
    app.add_middleware(EarlyOverload, refuse=lambda name: _refusal(state, name))
    app.add_middleware(JsonBodies)
    app.add_middleware(BodyLimit, max_bytes=state.settings.max_body_bytes)
    return app


def _document_models(app: FastAPI, state: ServerState) -> None:
    """Name this server's models in its OpenAPI document (path ``name``, versions, embeddings ``model``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        names = sorted(state.models)
        versions = sorted({m.bundle.manifest.version for m in state.models.values()})
        embed = sorted(n for n, m in state.models.items() if m.text is not None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path" and parameter.get("name") in {"name", "version"}:
                        parameter["schema"]["enum"] = names if parameter["name"] == "name" else versions
        request = schema.get("components", {}).get("schemas", {}).get("EmbeddingsRequest", {})
        if embed and "model" in request.get("properties", {}):
            request["properties"]["model"]["enum"] = embed
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _refusal(state: ServerState, name: str) -> str | None:
    """The 429 message for a request to ``name`` whose tensor queue is full (counted in the metrics), or None."""
    model = state.models.get(name)
    refusal = model.tensors.full() if model is not None else None
    if model is not None and refusal is not None:
        state.metrics.observe_request(name, "infer", 429, 0.0)
        quota = model.bundle.manifest.quota.max_queue
        return (
            f"{refusal}; hint: retry later, or raise max_queue ({quota}) in the quota of {model.bundle.manifest_path}"
        )
    return None
