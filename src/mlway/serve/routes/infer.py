"""KServe v2 inference: POST /v2/models/{name}/infer (and /versions/{version}/infer).

Numeric inputs go through the model's tensor batcher. An embed model with text preprocessing also
takes one BYTES input of strings and answers an ``embedding`` output (FP32 [n, dim]). Inputs and
outputs may travel as raw bytes after the JSON (the binary tensor extension, ``mlway.serve.binary``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from mlway.core.errors import InputError
from mlway.serve.binary import HEADER, STATE_KEY, binary_array, binary_response, binary_size, wants_binary
from mlway.serve.model import ServedModel
from mlway.serve.protocol import DTYPES, InferenceRequest, InferenceResponse, output_of, texts_of, to_array
from mlway.serve.responses import JSON
from mlway.serve.routes.common import errors
from mlway.serve.state import ServerState, state_of

router = APIRouter(tags=["inference"])
RESPONSES = errors(400, 404, 413, 429, 503, 504)


def _arrays(body: InferenceRequest, binary: memoryview | None, limit: int) -> dict[str, object]:
    arrays: dict[str, object] = {}
    offset = 0
    for item in body.inputs:
        if item.name in arrays:
            raise InputError(f"input {item.name!r} is sent twice")
        size = binary_size(item.parameters, item.name)
        if size is None:
            arrays[item.name] = to_array(item, limit=limit)
            continue
        if binary is None:
            raise InputError(
                f"input {item.name!r} sets binary_data_size but the request has no binary part",
                hint=f"send the {HEADER} header with the JSON part's length, and the tensor bytes after the JSON",
            )
        if item.data is not None or item.datatype == "BYTES":
            raise InputError(f"input {item.name!r}: binary data is for numeric tensors sent without data")
        if offset + size > len(binary):
            raise InputError(
                f"input {item.name!r}: binary data ends after {len(binary)} bytes, before the {size} it declares "
                f"(from byte {offset})"
            )
        dtype = np.dtype(DTYPES[item.datatype])
        arrays[item.name] = binary_array(binary[offset : offset + size], item.name, item.shape, dtype, item.datatype)
        offset += size
    if binary is not None and offset != len(binary):
        raise InputError(
            f"{len(binary) - offset} bytes after the JSON belong to no input",
            hint="set binary_data_size on each binary input; the sizes must add up to the bytes after the JSON",
        )
    return arrays


async def _outputs(
    state: ServerState, model: ServedModel, body: InferenceRequest, binary: memoryview | None
) -> dict[str, np.ndarray]:
    if model.text is not None and any(item.datatype == "BYTES" for item in body.inputs):
        if len(body.inputs) != 1:
            raise InputError(f"model {model.name!r}: send text as one BYTES input (a flat list of strings)")
        texts = texts_of(body.inputs[0])
        if not texts or len(texts) > state.settings.max_texts:
            raise InputError(f"send 1 to {state.settings.max_texts} strings, not {len(texts)}")
        return {"embedding": (await model.embed(texts)).vectors}
    limit = state.settings.max_body_bytes  # elements cannot outnumber the bytes that carried them
    return await model.infer(_arrays(body, binary, limit))


async def _infer(request: Request, name: str, version: str | None, body: InferenceRequest) -> Response:
    state = state_of(request)
    async with state.track(name, "infer"):
        model = state.model(name, version)
        binary: memoryview | None = request.scope.get("state", {}).get(STATE_KEY)
        outputs = await _outputs(state, model, body, binary)
        asked = {o.name: o.parameters for o in body.outputs} if body.outputs else dict.fromkeys(outputs)
        wanted = list(asked)
        missing = [n for n in wanted if n not in outputs]
        if missing:
            raise InputError(f"model {model.name!r} has no outputs {missing}", hint=f"outputs: {list(outputs)}")
        content: dict[str, Any] = {
            "model_name": model.name,
            "model_version": model.bundle.manifest.version,
            "id": body.id,
            "parameters": {"variant": model.variant()},
        }
        encoded = [output_of(n, outputs[n], binary=wants_binary(body.parameters, asked[n])) for n in wanted]
        content["outputs"] = [output for output, _ in encoded]
        tensors = [raw for _, raw in encoded if raw is not None]
        return binary_response(content, tensors) if tensors else JSON(content)


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
