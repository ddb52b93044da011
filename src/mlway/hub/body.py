"""Request bodies: size limit (413), gzip (``Content-Encoding: gzip``), JSON, and wire-schema validation (422).

Reading is async (I/O on the event loop); ``decode`` and ``validate`` are CPU work for a worker thread.
"""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from mlway.core.errors import InputError
from mlway.hub.errors import FieldProblem, InvalidBodyError, PayloadTooLargeError, UnsupportedEncodingError

ModelT = TypeVar("ModelT", bound=BaseModel)
_SHOWN_PROBLEMS = 20


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body over the hub's {limit} byte limit",
        hint="send fewer records per batch (the uplink's batch_records) or raise the hub's --max-body-bytes",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it (or its declared length) passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode(raw: bytes, encoding: str | None, limit: int) -> Any:
    """The JSON document of a body, gunzipped when ``encoding`` is gzip (at most ``limit`` bytes inflated)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise InputError(
                f"the body says Content-Encoding: gzip but is not valid gzip ({exc})",
                hint="compress the whole body with gzip, or drop the Content-Encoding header",
            ) from exc
        if len(raw) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
    elif encoding != "identity":
        raise UnsupportedEncodingError(
            f"unsupported Content-Encoding {encoding!r}", hint="send the body plain or gzip-compressed"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the body is not valid JSON: {exc}", hint="send one JSON object (the wire schema)") from exc


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def validate(model: type[ModelT], document: Any) -> ModelT:
    """``document`` as ``model``, or a 422 InvalidBodyError naming every wrong field."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = [FieldProblem(_field(error["loc"]), error["msg"]) for error in exc.errors(include_url=False)]
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidBodyError(
            f"invalid {model.__name__}: {first.field}: {first.message}{more}",
            fields=problems[:_SHOWN_PROBLEMS],
            hint="the body must match mlway.core.wire." + model.__name__,
        ) from exc
