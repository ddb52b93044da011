"""The rknn-lite adapter against a stand-in ``rknnlite`` package (the real one installs on Rockchip boards only).

The stand-in follows RKNNLite's documented calls (load_rknn, init_runtime(core_mask=...), inference(inputs=[...]),
release) and records them, so the adapter's ordering, naming and error handling are checked here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlway.core.errors import MlwayError
from mlway.runtime import LoadSpec, TensorSpec, get_backend

FAKE = """
import numpy as np

calls = []


class RKNNLite:
    NPU_CORE_AUTO, NPU_CORE_0, NPU_CORE_1, NPU_CORE_2, NPU_CORE_0_1, NPU_CORE_0_1_2 = 0, 1, 2, 4, 3, 7

    def load_rknn(self, path):
        calls.append(("load_rknn", path))
        return 0 if path.endswith(".rknn") else -1

    def init_runtime(self, core_mask=0):
        calls.append(("init_runtime", core_mask))
        return 0

    def inference(self, inputs):
        calls.append(("inference", [a.shape for a in inputs]))
        a, b = inputs
        return [a.sum(axis=1, keepdims=True) - b.sum(axis=1, keepdims=True)]

    def release(self):
        calls.append(("release",))
"""


@pytest.fixture
def fake_rknnlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    package = tmp_path / "fake" / "rknnlite"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "api.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    import rknnlite.api  # noqa: PLC0415

    yield rknnlite.api
    for name in ("rknnlite", "rknnlite.api"):
        sys.modules.pop(name, None)


def _spec(entry: str, options: dict[str, str | int | float | bool] | None = None) -> LoadSpec:
    return LoadSpec(
        model="cam",
        variant="npu",
        entry=Path(entry),
        files=(),
        inputs=(
            TensorSpec(name="a", dtype="float32", shape=["batch", 3]),
            TensorSpec(name="b", dtype="float32", shape=["batch", 2]),
        ),
        outputs=(TensorSpec(name="diff", dtype="float32", shape=["batch", 1]),),
        options=options or {},
    )


def test_adapter_orders_inputs_names_outputs_and_releases(fake_rknnlite: object) -> None:
    backend = get_backend("rknn-lite")(_spec("model.rknn", {"core_mask": "0_1"}))
    backend.load()
    backend.warm_up()
    out = backend.infer({"b": np.ones((2, 2), np.float32), "a": np.full((2, 3), 2.0, np.float32)})
    np.testing.assert_array_equal(out["diff"], [[4.0], [4.0]])
    backend.unload()
    calls = fake_rknnlite.calls  # type: ignore[attr-defined]
    assert calls[0] == ("load_rknn", "model.rknn")
    assert calls[1] == ("init_runtime", 3)
    assert calls[-2] == ("inference", [(2, 3), (2, 2)])
    assert calls[-1] == ("release",)


def test_adapter_reports_load_failures_and_bad_core_masks(fake_rknnlite: object) -> None:
    with pytest.raises(MlwayError, match=r"could not load model\.onnx"):
        get_backend("rknn-lite")(_spec("model.onnx")).load()
    with pytest.raises(MlwayError, match="core_mask '5' is not one of"):
        get_backend("rknn-lite")(_spec("model.rknn", {"core_mask": "5"})).load()
