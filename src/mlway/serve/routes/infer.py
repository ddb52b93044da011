"""KServe v2 inference: POST /v2/models/{name}/infer (and /versions/{version}/infer).

Numeric inputs go through the model's tensor batcher. An embed model with text preprocessing also
takes one BYTES input of strings and answers an ``embedding`` output (FP32 [n, dim]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlway.core.errors import InputError
from mlway.serve.model import ServedModel
from mlway.serve.protocol import InferenceRequest, InferenceResponse, output_of, texts_of, to_array
from mlway.serve.responses import JSON
from mlway.serve.routes.common import errors
from mlway.serve.state import ServerState, state_of

router = APIRouter(tags=["inference"])
RESPONSES = errors(400, 404, 413, 429, 503, 504)


async def _outputs(state: ServerState, model: ServedModel, body: InferenceRequest) -> dict[str, np.ndarray]:
    if model.text is not None and any(item.datatype == "BYTES" for item in body.inputs):
        if len(body.inputs) != 1:
            raise InputError(f"model {model.name!r}: send text as one BYTES input (a flat list of strings)")
        texts = texts_of(body.inputs[0])
        if not texts or len(texts) > state.settings.max_texts:
            raise InputError(f"send 1 to {state.settings.max_texts} strings, not {len(texts)}")
        return {"embedding": (await model.embed(texts)).vectors}
    limit = state.settings.max_body_bytes  # elements cannot outnumber the bytes that carried them
    arrays: dict[str, object] = {}
    for item in body.inputs:
        if item.name in arrays:
            raise InputError(f"input {item.name!r} is sent twice")
        arrays[item.name] = to_array(item, limit=limit)
    return await model.infer(arrays)


async def _infer(request: Request, name: str, version: str | None, body: InferenceRequest) -> Response:
    state = state_of(request)
    async with state.track(name, "infer"):
        model = state.model(name, version)
        outputs = await _outputs(state, model, body)
        wanted = [o.name for o in body.outputs] if body.outputs else list(outputs)
        missing = [n for n in wanted if n not in outputs]
        if missing:
            raise InputError(f"model {model.name!r} has no outputs {missing}", hint=f"outputs: {list(outputs)}")
        content: dict[str, Any] = {
            "model_name": model.name,
            "model_version": model.bundle.manifest.version,
            "id": body.id,
            "parameters": {"variant": model.variant()},
            "outputs": [output_of(n, outputs[n]) for n in wanted],
        }
        return JSON(content)


@router.post(
    "/v2/models/{name}/infer",
    summary="Run inference.",
    response_model=InferenceResponse,
    responses=RESPONSES,
)
async def infer(request: Request, name: str, body: InferenceRequest) -> Response:
    return await _infer(request, name, None, body)


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    summary="Run inference at a version.",
    response_model=InferenceResponse,
    responses=RESPONSES,
)
async def infer_version(request: Request, name: str, version: str, body: InferenceRequest) -> Response:
    return await _infer(request, name, version, body)
