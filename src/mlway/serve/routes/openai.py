"""OpenAI-compatible embeddings: POST /v1/embeddings and GET /v1/models (the embed models)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field, StringConstraints

from mlway.core.errors import InputError
from mlway.core.model import StrictModel
from mlway.serve.responses import JSON
from mlway.serve.routes.common import errors
from mlway.serve.state import state_of

router = APIRouter(tags=["openai"])


class EmbeddingsRequest(StrictModel):
    """The body of POST /v1/embeddings (OpenAI's fields; token-id inputs are not accepted)."""

    model: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(description="Model name.")
    input: str | list[str] = Field(description="A text or a list of texts.")
    encoding_format: Literal["float", "base64"] = Field(default="float", description="float lists or base64.")
    dimensions: int | None = Field(default=None, ge=1, le=65536, description="Must equal the model's, if sent.")
    user: str | None = Field(default=None, max_length=256, description="Ignored.")


@router.post("/v1/embeddings", summary="Embed texts (OpenAI API).", responses=errors(400, 404, 413, 429, 503, 504))
async def embeddings(request: Request, body: EmbeddingsRequest) -> Response:
    state = state_of(request)
    async with state.track(body.model, "embeddings"):
        model = state.model(body.model)
        texts = [body.input] if isinstance(body.input, str) else body.input
        limits = state.settings
        if not texts or len(texts) > limits.max_texts:
            raise InputError(f"'input' holds {len(texts)} texts; send 1 to {limits.max_texts}")
        longest = max(len(t) for t in texts)
        if longest > limits.max_text_chars:
            raise InputError(f"a text has {longest} characters; send at most {limits.max_text_chars}")
        if model.text is None:
            embed = sorted(n for n, m in state.models.items() if m.text is not None)
            raise InputError(
                f"model {model.name!r} is a {model.task} model; /v1/embeddings serves text embedding models",
                hint=f"embedding models here: {', '.join(embed) or 'none'}",
            )
        if body.dimensions is not None and model.text.dimensions not in {None, body.dimensions}:
            raise InputError(
                f"model {model.name!r} makes {model.text.dimensions}-dimensional embeddings, not {body.dimensions}"
            )
        result = await model.embed(texts)
        data: list[dict[str, Any]] = []
        for index, vector in enumerate(result.vectors):
            value: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if body.encoding_format == "base64"
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": value})
        usage = {"prompt_tokens": result.tokens, "total_tokens": result.tokens}
        return JSON({"object": "list", "data": data, "model": model.name, "usage": usage})


@router.get("/v1/models", summary="The models /v1/embeddings serves (OpenAI API).")
async def models(request: Request) -> dict[str, Any]:
    state = state_of(request)
    created = int(state.started_at)
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "mlway"}
        for name, model in sorted(state.models.items())
        if model.text is not None
    ]
    return {"object": "list", "data": data}
