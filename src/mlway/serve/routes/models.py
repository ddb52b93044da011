"""Server and model metadata: GET /v2, /v2/models (mlway: which variant serves and why), /v2/models/{name}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlway import __version__
from mlway.serve.model import ServedModel
from mlway.serve.protocol import tensor_metadata
from mlway.serve.responses import JSON
from mlway.serve.routes.common import errors
from mlway.serve.state import state_of

router = APIRouter(tags=["models"])


@router.get("/v2", summary="Server metadata.")
async def server_metadata() -> dict[str, Any]:
    return {
        "name": "mlway",
        "version": __version__,
        "extensions": ["mlway_model_status", "openai_embeddings", "binary_tensor_data"],
    }


def _batching(model: ServedModel) -> dict[str, Any]:
    limits = model.limits
    return {
        "max_batch_size": limits.max_batch,
        "max_delay_ms": limits.max_delay_s * 1000,
        "timeout_s": limits.timeout_s,
        "timeout_setting": limits.timeout_setting,
        "max_queue": model.bundle.manifest.quota.max_queue,
        "max_concurrency": model.bundle.manifest.quota.max_concurrency,
    }


@router.get("/v2/models", summary="Every model: state, serving variant and why, refused variants, memory, batching.")
async def list_models(request: Request) -> Response:
    state = state_of(request)
    status = state.host.status()
    models = []
    for entry in status.models:
        data = entry.model_dump(mode="json", exclude={"inputs", "outputs", "labels"})
        served = state.models.get(entry.name)
        if served is not None:
            data["batching"] = _batching(served)
            data["queue_depth"] = served.depth
        models.append(data)
    budget = {
        "memory": status.budget_memory,
        "cpu_ids": status.budget_cpu_ids,
        "free_memory": status.free_memory,
        "free_cpu_ids": status.free_cpu_ids,
    }
    return JSON({"budget": budget, "models": models})


def _metadata(request: Request, name: str, version: str | None) -> Response:
    state = state_of(request)
    model = state.model(name, version)
    status = state.host.model_status(model.name)
    manifest = model.bundle.manifest
    body: dict[str, Any] = {
        "name": manifest.name,
        "versions": [manifest.version],
        "platform": status.backend or manifest.variants[0].backend,
        "inputs": [tensor_metadata(s).model_dump() for s in status.inputs],
        "outputs": [tensor_metadata(s).model_dump() for s in status.outputs],
        "parameters": {
            "task": manifest.task,
            "state": status.state,
            "variant": status.variant,
            "reason": status.reason,
            "labels": manifest.labels,
            "text_input": model.text is not None,
        },
    }
    return JSON(body)


@router.get("/v2/models/{name}", summary="Model metadata.", responses=errors(404))
async def model_metadata(request: Request, name: str) -> Response:
    return _metadata(request, name, None)


@router.get("/v2/models/{name}/versions/{version}", summary="Model metadata at a version.", responses=errors(404))
async def model_version_metadata(request: Request, name: str, version: str) -> Response:
    return _metadata(request, name, version)


def _ready(request: Request, name: str, version: str | None) -> Response:
    state = state_of(request)
    model = state.model(name, version)
    status = state.host.model_status(model.name)
    ok = status.state == "ready" and status.variant is not None
    body = {"name": model.name, "ready": ok, "state": status.state, "reason": status.reason}
    return JSON(body, status_code=200 if ok else 400)


@router.get("/v2/models/{name}/ready", summary="200 when the model serves, 400 when not.", responses=errors(404))
async def model_ready(request: Request, name: str) -> Response:
    return _ready(request, name, None)


@router.get("/v2/models/{name}/versions/{version}/ready", summary="Readiness at a version.", responses=errors(404))
async def model_version_ready(request: Request, name: str, version: str) -> Response:
    return _ready(request, name, version)
