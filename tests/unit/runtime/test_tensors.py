"""Request inputs are checked against the serving variant's specs before they reach a worker."""

from __future__ import annotations

import numpy as np
import pytest

from mlway.core.errors import InputError
from mlway.runtime import TensorSpec
from mlway.runtime.tensors import check_inputs, dummy_inputs

TEXT = [
    TensorSpec(name="input_ids", dtype="int64", shape=["batch", "tokens"]),
    TensorSpec(name="attention_mask", dtype="int64", shape=["batch", "tokens"]),
]
IMAGE = [TensorSpec(name="image", dtype="float32", shape=["batch", 3, 32, 32])]


def test_matching_inputs_pass() -> None:
    ids = np.ones((2, 7), dtype=np.int64)
    arrays = check_inputs({"input_ids": ids, "attention_mask": ids}, TEXT, model="minilm")
    assert arrays["input_ids"] is ids


@pytest.mark.parametrize(
    ("inputs", "message", "hint"),
    [
        ({"input_ids": np.ones((1, 4), np.int64)}, "missing ['attention_mask']", "input_ids: int64[batch, tokens]"),
        (
            {"input_ids": np.ones((1, 4), np.int32), "attention_mask": np.ones((1, 4), np.int64)},
            "'input_ids' has dtype int32, expected int64",
            "int64[batch, tokens]",
        ),
        (
            {"input_ids": np.ones((1, 4), np.int64), "attention_mask": np.ones((1, 5), np.int64)},
            "dimension 'tokens' is 4 in 'input_ids' but 5 in 'attention_mask'",
            "agree",
        ),
        (
            {"input_ids": np.ones((4,), np.int64), "attention_mask": np.ones((1, 4), np.int64)},
            "expected 2 dims",
            "int64",
        ),
    ],
)
def test_mismatches_say_what_was_expected(inputs: dict[str, np.ndarray], message: str, hint: str) -> None:
    with pytest.raises(InputError) as info:
        check_inputs(inputs, TEXT, model="minilm")
    assert message in info.value.message
    assert hint in (info.value.hint or "")
    assert info.value.http_status == 400


def test_fixed_dimensions_and_non_arrays() -> None:
    with pytest.raises(InputError, match="size 16 on axis 2, expected 32"):
        check_inputs({"image": np.zeros((1, 3, 16, 16), np.float32)}, IMAGE, model="cam")
    with pytest.raises(InputError, match="is a list, not an array"):
        check_inputs({"image": [[1.0]]}, IMAGE, model="cam")
    with pytest.raises(InputError, match="unknown \\['pixels'\\]"):
        check_inputs({"image": np.zeros((1, 3, 32, 32), np.float32), "pixels": 1}, IMAGE, model="cam")


def test_dummy_inputs_satisfy_their_specs() -> None:
    arrays = dummy_inputs(TEXT + IMAGE, batch=3)
    check_inputs(arrays, TEXT + IMAGE, model="any")
    assert arrays["image"].shape == (3, 3, 32, 32)
