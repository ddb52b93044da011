"""KServe v2 tensors to numpy and back: what is accepted, and what each refusal says."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlway.core.errors import InputError
from mlway.serve.protocol import RequestInput, output_of, texts_of, to_array


def tensor(datatype: str, shape: list[int], data: list[Any]) -> RequestInput:
    return RequestInput(name="x", datatype=datatype, shape=shape, data=data)  # type: ignore[arg-type]


def test_flat_and_nested_data_give_the_same_array() -> None:
    flat = to_array(tensor("FP32", [2, 3], [1, 2, 3, 4, 5, 6]))
    nested = to_array(tensor("FP32", [2, 3], [[1, 2, 3], [4, 5, 6]]))
    assert flat.dtype == np.float32
    assert flat.shape == (2, 3)
    np.testing.assert_array_equal(flat, nested)
    assert to_array(tensor("INT64", [3], [1, 2, 3])).dtype == np.int64
    assert to_array(tensor("BOOL", [2], [True, False])).tolist() == [True, False]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (tensor("FP32", [2, 2], [1, 2, 3]), "data has 3 elements but shape [2, 2] needs 4"),
        (tensor("FP32", [2], ["a", "b"]), "not FP32"),
        (tensor("INT64", [2], [1.5, 2]), "data holds number values, not INT64"),
        (tensor("UINT8", [2], [1, 300]), "out of the UINT8 range"),
        (tensor("BOOL", [1], [1]), "not BOOL"),
        (tensor("FP32", [2, 2], [[1, 2], [3]]), "ragged"),
        (tensor("BYTES", [1], ["text"]), "BYTES tensors are accepted only as text"),
        (tensor("FP32", [0, 1 << 30, 1 << 30], []), "elements, more than"),
    ],
)
def test_refusals_say_what_was_expected(item: RequestInput, message: str) -> None:
    with pytest.raises(InputError) as info:
        to_array(item)
    assert message in str(info.value)


def test_texts_are_a_flat_list_of_strings_with_a_matching_shape() -> None:
    assert texts_of(tensor("BYTES", [2], ["a", "b"])) == ["a", "b"]
    with pytest.raises(InputError, match="shape must be"):
        texts_of(tensor("BYTES", [1, 2], ["a", "b"]))
    with pytest.raises(InputError, match="flat list of strings"):
        texts_of(tensor("BYTES", [1], [3]))


def test_outputs_carry_shape_and_datatype_and_half_floats_widen() -> None:
    out, raw = output_of("y", np.ones((2, 2), dtype=np.float16))
    assert raw is None
    assert out["datatype"] == "FP32"
    assert out["shape"] == [2, 2]
    assert out["data"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert output_of("c", np.array([1, 2], dtype=np.int64))[0]["datatype"] == "INT64"


def test_binary_outputs_keep_their_datatype_as_little_endian_bytes_and_say_their_size() -> None:
    out, raw = output_of("y", np.array([[1.0, -2.0]], dtype=np.float16), binary=True)
    assert out == {"name": "y", "shape": [1, 2], "datatype": "FP16", "parameters": {"binary_data_size": 4}}
    assert raw == np.array([1.0, -2.0], dtype="<f2").tobytes()
    big_endian = np.array([1, 258], dtype=">i4")
    assert output_of("c", big_endian, binary=True)[1] == np.array([1, 258], dtype="<i4").tobytes()
