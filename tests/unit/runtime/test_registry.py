"""Backends are found by kind; unknown kinds list the valid ones; missing engines name the pip command."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mlway.core.errors import ConfigError, DependencyMissingError
from mlway.runtime import LoadSpec, TensorSpec, backend_kinds, get_backend, register_backend

SPEC = LoadSpec(
    model="m",
    variant="v",
    entry=Path("model.rknn"),
    files=(),
    inputs=(TensorSpec(name="x", dtype="float32", shape=[1, 4]),),
    outputs=(TensorSpec(name="y", dtype="float32", shape=[1, 2]),),
)


def test_unknown_kind_lists_the_valid_kinds() -> None:
    with pytest.raises(ConfigError) as info:
        get_backend("tensorrt")
    assert "onnxruntime, openvino, rknn-lite" in str(info.value)


def test_built_in_kinds_and_registration() -> None:
    assert {"onnxruntime", "openvino", "rknn-lite"} <= set(backend_kinds())
    register_backend("onnxruntime-copy", "mlway.runtime.backends.onnxruntime:OnnxRuntimeBackend")
    assert "onnxruntime-copy" in backend_kinds()
    assert get_backend("onnxruntime-copy") is get_backend("onnxruntime")
    with pytest.raises(ConfigError, match=r"package\.module:Factory"):
        register_backend("bad", "no_colon_here")


@pytest.mark.skipif(importlib.util.find_spec("rknnlite") is not None, reason="rknn-toolkit-lite2 is installed")
def test_missing_rknn_engine_gives_the_install_command() -> None:
    backend = get_backend("rknn-lite")(SPEC)
    assert backend.memory_estimate() > 0  # works without the engine (admission before loading)
    with pytest.raises(DependencyMissingError) as info:
        backend.load()
    assert "pip install 'mlway[rknn]'" in str(info.value)
    assert info.value.exit_code == 3


@pytest.mark.parametrize("kind", ["onnxruntime", "openvino", "rknn-lite"])
def test_unknown_backend_options_are_refused_with_the_valid_ones(kind: str) -> None:
    spec = LoadSpec(SPEC.model, SPEC.variant, SPEC.entry, SPEC.files, SPEC.inputs, SPEC.outputs, 1, {"turbo": True})
    with pytest.raises(ConfigError) as info:
        get_backend(kind)(spec)
    assert "unknown" in str(info.value)
    assert "turbo" in str(info.value)
    assert "valid options are" in str(info.value)
