"""Backends run for real in worker processes: OpenVINO (installed with the openvino extra) beside onnxruntime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlway.core.errors import ConfigError
from mlway.runtime import Budget, Bundle, LoadSpec, ModelHost, get_backend, load_bundle
from mlway.runtime.variants import load_spec

IMAGE = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)


def _with_openvino_first(path: Path, edit: Callable[..., Bundle]) -> Bundle:
    bundle = load_bundle(path)
    fp32 = bundle.manifest.variant("fp32")
    ov = fp32.model_copy(update={"name": "openvino-fp32", "backend": "openvino", "options": {"device": "CPU"}})
    return edit(path, variants=[ov.model_dump(), *(v.model_dump() for v in bundle.manifest.variants)])


def test_openvino_variant_serves_the_same_answers_as_onnxruntime(
    bundle_copy: Callable[..., Path], edit: Callable[..., Bundle], host: ModelHost
) -> None:
    pytest.importorskip("openvino")
    bundle = _with_openvino_first(bundle_copy("cam"), edit)
    status = host.start([bundle], Budget(memory="2GiB", cpus=1)).model("cam")
    assert (status.variant, status.backend) == ("openvino-fp32", "openvino")
    served = host.infer("cam", {"image": IMAGE})["logits"]
    host.swap("cam", variant="fp32")
    assert host.model_status("cam").backend == "onnxruntime"
    np.testing.assert_allclose(host.infer("cam", {"image": IMAGE})["logits"], served, rtol=1e-4, atol=1e-5)


def test_openvino_in_process_lifecycle(built: dict[str, Path]) -> None:
    pytest.importorskip("openvino")
    bundle = load_bundle(built["cam"])
    spec = load_spec(bundle, bundle.manifest.variant("int8"), threads=1)
    backend = get_backend("openvino")(spec)
    backend.load()
    backend.warm_up()
    assert backend.infer({"image": IMAGE})["logits"].shape == (2, 4)
    backend.unload()


def test_a_manifest_that_misnames_the_graph_tensors_is_refused(built: dict[str, Path]) -> None:
    bundle = load_bundle(built["cam"])
    spec = load_spec(bundle, bundle.manifest.variant("fp32"), threads=1)
    wrong = LoadSpec(
        spec.model, spec.variant, spec.entry, spec.files, (spec.inputs[0].model_copy(update={"name": "pixels"}),),
        spec.outputs,
    )  # fmt: skip
    for kind in ("onnxruntime", "openvino"):
        backend = get_backend(kind)(wrong)
        with pytest.raises(ConfigError, match=r"declares inputs \['pixels'\] but the .* model has \['image'\]"):
            backend.load()


def test_a_missing_engine_moves_the_host_to_the_next_variant(
    bundle_copy: Callable[..., Path], edit: Callable[..., Bundle], host: ModelHost
) -> None:
    path = bundle_copy("cam")
    bundle = load_bundle(path)
    npu = bundle.manifest.variant("int8").model_copy(update={"name": "npu", "backend": "rknn-lite"})
    bundle = edit(path, variants=[npu.model_dump(), *(v.model_dump() for v in bundle.manifest.variants)])
    status = host.start([bundle], Budget(memory="1GiB", cpus=1)).model("cam")
    assert status.variant == "fp32"
    assert "npu refused: backend rknn-lite needs rknnlite (pip install 'mlway[rknn]')" in status.reason
