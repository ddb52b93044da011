"""The KServe v2 binary tensor data extension (as Triton implements it), for requests and responses.

A body whose ``Inference-Header-Content-Length`` header says N holds N bytes of the usual JSON
request, then the raw bytes of each input that carries ``parameters.binary_data_size`` instead of
``data``, in the order the inputs are listed (little-endian, row-major). :class:`BinaryTensors` splits
such a body before FastAPI parses it: the JSON part becomes the body, the tail waits in the request
state for :func:`binary_inputs`.

A client that sets ``parameters.binary_data_output: true`` on the request (or ``binary_data: true`` on
one of its ``outputs``) gets those outputs the same way: ``binary_data_size`` in the JSON header, the
bytes after it, and the header's length in ``Inference-Header-Content-Length``. This skips writing
and parsing every float as text: MiniLM's [8, 20, 384] output is 245 KB of bytes instead of 670 KB of
JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlway.core.errors import InputError

HEADER = "Inference-Header-Content-Length"
_HEADER_KEY = HEADER.lower().encode()
STATE_KEY = "binary_tensors"


class BinaryTensors:
    """Split a binary-extension body into its JSON header (the body FastAPI sees) and the tensor bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", []) if scope["type"] == "http" else []
        declared = next((v for k, v in headers if k == _HEADER_KEY), None)
        if declared is None:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if not 0 < length <= len(body):
            problem = f"{HEADER} is {declared.decode(errors='replace')!r}, but the body has {len(body)} bytes"
            hint = "set it to the byte length of the JSON part that starts the body, before the tensor bytes"
            await _refuse(send, f"{problem}; {hint}")
            return
        scope.setdefault("state", {})[STATE_KEY] = memoryview(body)[length:]
        kept = [(k, v) for k, v in headers if k not in {b"content-length", b"content-type", _HEADER_KEY}]
        scope = dict(
            scope, headers=[*kept, (b"content-type", b"application/json"), (b"content-length", b"%d" % length)]
        )
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body[:length], "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, message: str) -> None:
    payload = orjson.dumps({"error": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def binary_size(parameters: dict[str, Any] | None, name: str) -> int | None:
    """An input's ``binary_data_size`` parameter, or None when its data is in the JSON."""
    if not parameters or parameters.get("binary_data_size") is None:
        return None
    size = parameters["binary_data_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InputError(f"input {name!r}: binary_data_size must be a byte count (an integer >= 0), not {size!r}")
    return size


def binary_array(data: memoryview, name: str, shape: list[int], dtype: np.dtype[Any], datatype: str) -> np.ndarray:
    """The input's raw little-endian bytes as an array of its shape; InputError when the size is wrong."""
    expected = math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise InputError(
            f"input {name!r}: {len(data)} bytes of binary data, but shape {shape} of {datatype} needs {expected}",
            hint="send the elements as raw little-endian bytes, row-major, and binary_data_size as their byte count",
        )
    try:
        return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
    except ValueError as exc:  # a zero dimension beside huge ones: no array of that shape can exist
        raise InputError(f"input {name!r}: shape {shape} is not a possible array: {exc}") from exc


def wants_binary(request_parameters: dict[str, Any] | None, output_parameters: dict[str, Any] | None) -> bool:
    """Whether one output goes back as binary: asked on the output, else on the request."""
    if output_parameters and output_parameters.get("binary_data") is not None:
        return output_parameters["binary_data"] is True
    return bool(request_parameters and request_parameters.get("binary_data_output") is True)


def binary_response(content: dict[str, Any], tensors: list[bytes]) -> Response:
    """The JSON header (outputs with ``binary_data_size``) followed by the raw tensor bytes."""
    header = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(
        content=b"".join([header, *tensors]),
        media_type="application/octet-stream",
        headers={HEADER: str(len(header))},
    )
