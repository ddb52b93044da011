"""The KServe v2 / Open Inference Protocol REST bodies, and conversion between them and numpy.

Tensor ``data`` is accepted flat (row-major, as the protocol says) or nested; its element count must
equal the product of ``shape``. Numbers must fit the datatype: a fraction for an INT64 input, a value
out of range or a string for FP32 is a 400 that says what was expected. Binary tensor data (the
protocol's binary extension) is read and written by ``mlway.serve.binary``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StringConstraints

from mlway.core.errors import InputError
from mlway.core.model import StrictModel
from mlway.runtime import TensorSpec

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"
]
DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
DATATYPES = {dtype: name for name, dtype in DTYPES.items()}
TensorName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Parameters = dict[str, str | int | float | bool | None]


class RequestInput(StrictModel):
    """One input tensor of an inference request."""

    name: TensorName = Field(description="The model input's name (see the model metadata).")
    shape: list[Annotated[int, Field(ge=0, le=1 << 31)]] = Field(max_length=8, description="Dimensions.")
    datatype: Datatype = Field(description="Element type: FP32, INT64, ... (BYTES for text on embed models).")
    parameters: Parameters | None = Field(
        default=None, description="binary_data_size: the input's bytes follow the JSON (binary extension)."
    )
    data: list[Any] | None = Field(
        default=None, description="Elements in row-major order, flat or nested (absent for binary data)."
    )


class RequestOutput(StrictModel):
    """An output the client asks for; without any, every output is returned."""

    name: TensorName = Field(description="The model output's name.")
    parameters: Parameters | None = Field(
        default=None, description="binary_data: true to get this output as raw bytes after the JSON."
    )


class InferenceRequest(StrictModel):
    """POST /v2/models/{name}/infer."""

    id: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Echoed in the response."
    )
    parameters: Parameters | None = Field(
        default=None, description="binary_data_output: true to get every output as raw bytes after the JSON."
    )
    inputs: list[RequestInput] = Field(min_length=1, max_length=64, description="Input tensors.")
    outputs: list[RequestOutput] | None = Field(
        default=None, max_length=64, description="Outputs to return (default: all)."
    )


class ResponseOutput(StrictModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = None


class InferenceResponse(StrictModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(StrictModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks a dynamic dimension.")


def tensor_metadata(spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(
        name=spec.name,
        datatype=DATATYPES.get(spec.dtype, spec.dtype.upper()),
        shape=[d if isinstance(d, int) else -1 for d in spec.shape],
    )


def _elements(shape: list[int], name: str, limit: int) -> int:
    count = math.prod(shape)
    if count > limit or math.prod(d for d in shape if d) > limit:
        raise InputError(f"input {name!r}: shape {shape} holds {count} elements, more than the {limit} accepted")
    return count


def to_array(item: RequestInput, *, limit: int = 1 << 26) -> np.ndarray:
    """The input as a numpy array of its datatype and shape; InputError saying what was expected."""
    if item.datatype == "BYTES":
        raise InputError(
            f"input {item.name!r}: BYTES tensors are accepted only as text by embed models",
            hint="send numbers in the datatype the model metadata lists",
        )
    count = _elements(item.shape, item.name, limit)
    dtype = np.dtype(DTYPES[item.datatype])
    if item.data is None:
        raise InputError(
            f"input {item.name!r} has no data",
            hint="send its elements in data, or its raw bytes after the JSON with parameters.binary_data_size "
            "and the Inference-Header-Content-Length header",
        )
    try:
        raw = np.asarray(item.data)
    except ValueError as exc:
        raise InputError(f"input {item.name!r}: data is ragged (nested lists of different lengths)") from exc
    if raw.size != count:
        raise InputError(
            f"input {item.name!r}: data has {raw.size} elements but shape {item.shape} needs {count}",
            hint="send the elements in row-major order, flat or nested, as many as the shape says",
        )
    if raw.size and not _fits(raw.dtype, dtype):
        raise InputError(
            f"input {item.name!r}: data holds {_kind(raw.dtype)} values, not {item.datatype}",
            hint=f"send {_kind(dtype)} values for a {item.datatype} tensor",
        )
    try:
        array = raw.astype(dtype, casting="unsafe") if raw.size else np.zeros(0, dtype)
    except (ValueError, OverflowError, TypeError) as exc:
        raise InputError(f"input {item.name!r}: data does not fit {item.datatype}: {exc}") from exc
    if dtype.kind in "iu" and raw.size and (raw.min() < np.iinfo(dtype).min or raw.max() > np.iinfo(dtype).max):
        raise InputError(f"input {item.name!r}: a value is out of the {item.datatype} range")
    try:
        return array.reshape(item.shape)
    except ValueError as exc:  # a zero dimension beside huge ones: no array of that shape can exist
        raise InputError(f"input {item.name!r}: shape {item.shape} is not a possible array: {exc}") from exc


def _fits(source: np.dtype[Any], target: np.dtype[Any]) -> bool:
    if target.kind == "b":
        return source.kind == "b"
    if target.kind in "iu":
        return source.kind in "iub"
    if target.kind == "f":
        return source.kind in "iufb"
    return False


def _kind(dtype: np.dtype[Any]) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "number"}.get(dtype.kind, "non-numeric")


def texts_of(item: RequestInput) -> list[str]:
    """A BYTES input's strings (for embed models)."""
    if item.data is None:
        raise InputError(f"input {item.name!r}: send the texts in data (binary BYTES tensors are not accepted)")
    if not all(isinstance(t, str) for t in item.data):
        raise InputError(f"input {item.name!r}: a BYTES tensor for an embed model is a flat list of strings")
    if item.shape != [len(item.data)]:
        raise InputError(f"input {item.name!r}: shape must be [{len(item.data)}] for {len(item.data)} strings")
    return list(item.data)


def output_of(name: str, array: np.ndarray, *, binary: bool = False) -> tuple[dict[str, Any], bytes | None]:
    """One response output and, for a binary one, its raw little-endian bytes (``data`` stays a numpy
    array for orjson to write otherwise)."""
    if array.dtype == np.float16 and not binary:
        array = array.astype(np.float32)
    output: dict[str, Any] = {
        "name": name,
        "shape": list(array.shape),
        "datatype": DATATYPES.get(array.dtype.name, "BYTES"),
    }
    flat = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).ravel()
    if not binary:
        output["data"] = flat
        return output, None
    raw = flat.tobytes()
    output["parameters"] = {"binary_data_size": len(raw)}
    return output, raw
