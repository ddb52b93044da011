"""POST /v1/embeddings: deterministic unit vectors, one per input.

The vector of a text depends only on the config's seed and the text, so equal inputs get equal
vectors across requests and restarts. ``usage.prompt_tokens`` counts sim tokens (words, or ids).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np
import orjson
from aiohttp import web

from mlway.bench.simserver.state import STATE, read_json
from mlway.bench.simserver.words import count_words
from mlway.core.errors import InputError

_MAX_INPUTS = 2048


def _inputs(value: object) -> list[tuple[str, int]]:
    """(key, tokens) for each input: a string, a list of strings, ids, or lists of ids."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(type(t) is int for t in value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError("'input' is required: a string, a list of strings, or token ids")
    if len(value) > _MAX_INPUTS:
        raise InputError(f"'input' holds {len(value)} items; send at most {_MAX_INPUTS} per request")
    items: list[tuple[str, int]] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            items.append((item, count_words(item)))
        elif isinstance(item, list) and all(type(t) is int for t in item):
            items.append((str(item), len(item)))
        else:
            raise InputError(f"'input[{index}]' must be a string or a list of token ids")
    return items


def _vector(seed: int, key: str, dim: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    vector = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if type(value) is not int or not 1 <= value <= 65_536:
        raise InputError(f"'{name}' must be an integer from 1 to 65536, got {value!r:.40}")
    return value


async def embeddings(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InputError("'model' must be a string")
    state.check_model(model)
    items = _inputs(body.get("input"))
    dim = _int_field(body, "dimensions", state.config.embedding_dim)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InputError(f"'encoding_format' must be 'float' or 'base64', got {encoding!r:.40}")
    data = []
    for index, (key, _) in enumerate(items):
        vector = _vector(state.config.seed, key, dim)
        encoded: object = vector if encoding == "float" else base64.b64encode(vector.tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count for _, count in items)
    state.counters.prompt_tokens += tokens
    state.counters.requests["embeddings", "ok"] += 1
    payload = {
        "object": "list",
        "data": data,
        "model": state.config.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return web.Response(body=orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), content_type="application/json")
