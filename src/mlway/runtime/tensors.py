"""Named tensors: their declared shape and dtype, checks of request inputs, and dummy inputs.

A dimension is a positive integer (fixed) or a name such as ``"batch"`` (dynamic). Inputs a request
sends are checked against the serving variant's specs before they cross to a worker, so a wrong
name, dtype or shape is a 400 that says what was expected, never a backend stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, StringConstraints

from mlway.core.errors import InputError
from mlway.core.model import StrictModel

DType = Literal["float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool"]
SymbolicDim = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")]
Dim = Annotated[int, Field(ge=1, le=1 << 31)] | SymbolicDim
Shape = Annotated[list[Dim], Field(min_length=0, max_length=8)]
TensorName = Annotated[str, StringConstraints(min_length=1, max_length=128)]

Arrays = dict[str, np.ndarray]


class TensorSpec(StrictModel):
    """One named input or output tensor of a model."""

    name: TensorName = Field(description="The tensor's name in the model graph, e.g. 'input' or 'logits'.")
    dtype: DType = Field(description="Element type as numpy names it: float32, int64, uint8, ...")
    shape: Shape = Field(
        description="Dimensions, outermost first: an integer is fixed, a name (e.g. 'batch') is dynamic.",
    )

    def with_shape(self, shape: Sequence[int | str]) -> TensorSpec:
        return TensorSpec(name=self.name, dtype=self.dtype, shape=list(shape))

    def describe(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]"


def check_inputs(inputs: Mapping[str, object], specs: Sequence[TensorSpec], *, model: str) -> Arrays:
    """Return the inputs as numpy arrays if they match ``specs``; otherwise raise ``InputError``.

    Names must match exactly, dtypes exactly, ranks exactly and every fixed dimension. Named dynamic
    dimensions must agree across inputs (e.g. one ``batch`` size for ``input_ids`` and ``attention_mask``).
    """
    expected = {spec.name for spec in specs}
    missing = sorted(expected - set(inputs))
    unknown = sorted(set(inputs) - expected)
    if missing or unknown:
        wanted = "; ".join(spec.describe() for spec in specs)
        problem = f"missing {missing}" if missing else f"unknown {unknown}"
        raise InputError(f"model {model!r}: {problem} inputs", hint=f"send exactly these inputs: {wanted}")
    arrays: Arrays = {}
    bound: dict[str, tuple[int, str]] = {}
    for spec in specs:
        value = inputs[spec.name]
        if not isinstance(value, np.ndarray):
            raise InputError(f"model {model!r}: input {spec.name!r} is a {type(value).__name__}, not an array")
        if value.dtype != np.dtype(spec.dtype):
            raise InputError(
                f"model {model!r}: input {spec.name!r} has dtype {value.dtype}, expected {spec.dtype}",
                hint=f"expected {spec.describe()}",
            )
        if value.ndim != len(spec.shape):
            raise InputError(
                f"model {model!r}: input {spec.name!r} has shape {list(value.shape)} ({value.ndim} dims), "
                f"expected {len(spec.shape)} dims",
                hint=f"expected {spec.describe()}",
            )
        for axis, (dim, size) in enumerate(zip(spec.shape, value.shape, strict=True)):
            if isinstance(dim, int) and size != dim:
                raise InputError(
                    f"model {model!r}: input {spec.name!r} has size {size} on axis {axis}, expected {dim}",
                    hint=f"expected {spec.describe()}",
                )
            if isinstance(dim, str):
                first = bound.setdefault(dim, (size, spec.name))
                if first[0] != size:
                    raise InputError(
                        f"model {model!r}: dimension {dim!r} is {first[0]} in {first[1]!r} but {size} in {spec.name!r}",
                        hint="every input must agree on a named dimension such as the batch size",
                    )
        arrays[spec.name] = value
    return arrays


def dummy_inputs(specs: Sequence[TensorSpec], *, batch: int = 1, seed: int = 0) -> Arrays:
    """Inputs that satisfy ``specs``: dynamic dims are ``batch`` (first axis) or 8, values are small."""
    rng = np.random.default_rng(seed)
    arrays: Arrays = {}
    for spec in specs:
        shape = [d if isinstance(d, int) else (batch if axis == 0 else 8) for axis, d in enumerate(spec.shape)]
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            arrays[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            arrays[spec.name] = np.ones(shape, dtype=dtype)
        else:
            arrays[spec.name] = np.ones(shape, dtype=dtype)
    return arrays
