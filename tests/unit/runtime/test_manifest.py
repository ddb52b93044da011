"""Bundle manifests: typed, validated, unknown keys rejected, errors that name the field, value and fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlway.core.errors import NotFoundError
from mlway.runtime import (
    BundleError,
    IntegrityError,
    load_bundle,
    load_bundles,
    save_manifest,
    verify_variant,
)
from mlway.runtime.bundle import file_entry

WriteManifest = Callable[..., Path]
MakeManifest = Callable[..., dict[str, Any]]


def test_a_valid_manifest_loads_with_parsed_sizes(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    bundle = load_bundle(write_manifest(make_manifest()))
    assert bundle.name == "cam"
    assert bundle.manifest.quota.memory == 512 * 1024**2
    assert bundle.manifest.quota.cpu_threads == 1
    assert bundle.manifest.variants[0].backend == "onnxruntime"


def test_unknown_key_is_rejected_with_its_path(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    data = make_manifest()
    data["variants"][0]["precision"] = "fp32"
    with pytest.raises(BundleError) as info:
        load_bundle(write_manifest(data))
    text = str(info.value)
    assert "variants.0.precision = 'fp32'" in text
    assert "unknown keys are rejected" in text


def test_bad_sha256_names_field_value_and_fix(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    data = make_manifest()
    root = write_manifest(data)
    data["variants"][0]["files"][0]["sha256"] = "xyz"
    (root / "mlway-bundle.yaml").write_text(json.dumps(data))
    with pytest.raises(BundleError) as info:
        load_bundle(root)
    assert "variants.0.files.0.sha256 = 'xyz'" in str(info.value)
    assert "sha256sum" in str(info.value)


def test_bad_memory_quota_says_how_to_write_it(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(write_manifest(make_manifest(quota={"memory": "lots"})))
    assert "quota.memory = 'lots'" in str(info.value)
    assert "512MiB" in str(info.value)


def test_unknown_backend_kind_lists_the_valid_ones(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    data = make_manifest()
    data["variants"][0]["backend"] = "tensorrt"
    with pytest.raises(BundleError) as info:
        load_bundle(write_manifest(data))
    assert "variants.0.backend = 'tensorrt'" in str(info.value)
    assert "onnxruntime, openvino, rknn-lite" in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["variants"][0].update(entry="other.onnx"), "entry 'other.onnx' is not among"),
        (lambda d: d["variants"][0]["files"][0].update(path="../escape.onnx"), "without '..'"),
        (lambda d: d["variants"].append(dict(d["variants"][0])), "variants repeat a name"),
        (lambda d: d.update(labels=["a", "b"]), "2 labels for an output of 4 classes"),
        (lambda d: d["variants"][0].update(input_shapes={"pixels": [1, 3, 8, 8]}), "names 'pixels'"),
        (lambda d: d["variants"][0].update(input_shapes={"image": [1, 3, 8]}), "has 3 dims"),
        (lambda d: d.update(task="segment"), "task = 'segment'"),
        (lambda d: d.update(priority=5000), "priority = 5000"),
    ],
)
def test_inconsistent_manifests_are_refused(
    make_manifest: MakeManifest,
    write_manifest: WriteManifest,
    change: Callable[[dict[str, object]], None],
    expected: str,
) -> None:
    data = make_manifest()
    change(data)
    with pytest.raises(BundleError, match="invalid field") as info:
        load_bundle(write_manifest(data, artefacts=False))
    assert expected in str(info.value)


def test_not_yaml_and_missing_bundle(tmp_path: Path) -> None:
    (tmp_path / "mlway-bundle.yaml").write_text("name: [unclosed")
    with pytest.raises(BundleError, match="not valid YAML"):
        load_bundle(tmp_path)
    with pytest.raises(NotFoundError, match="has no manifest"):
        load_bundle(tmp_path / "..")
    with pytest.raises(NotFoundError, match="no bundle"):
        load_bundle(tmp_path / "nothing")


def test_save_round_trips_and_json_manifests_work(
    make_manifest: MakeManifest, write_manifest: WriteManifest, tmp_path: Path
) -> None:
    bundle = load_bundle(write_manifest(make_manifest()))
    changed = bundle.manifest.model_copy(update={"priority": 7})
    save_manifest(bundle, changed)
    again = load_bundle(bundle.directory)
    assert again.manifest == changed
    assert "memory: 512MiB" in bundle.manifest_path.read_text()

    other = tmp_path / "json"
    other.mkdir()
    (other / "w.onnx").write_bytes(b"weights")
    data = make_manifest("j")
    data["variants"][0].update(entry="w.onnx", files=[file_entry(other, "w.onnx").model_dump()])
    (other / "mlway-bundle.json").write_text(json.dumps(data))
    loaded = load_bundle(other)
    verify_variant(loaded, loaded.manifest.variants[0])
    save_manifest(loaded)
    assert json.loads((other / "mlway-bundle.json").read_text())["name"] == "j"


def test_tampered_or_missing_artefacts_are_named(make_manifest: MakeManifest, write_manifest: WriteManifest) -> None:
    bundle = load_bundle(write_manifest(make_manifest()))
    variant = bundle.manifest.variants[0]
    verify_variant(bundle, variant)
    (bundle.directory / "fp32.onnx").write_bytes(b"tampered!")
    with pytest.raises(IntegrityError, match=r"sha256 mismatch for fp32.onnx"):
        verify_variant(bundle, variant)
    (bundle.directory / "fp32.onnx").unlink()
    with pytest.raises(IntegrityError, match=r"fp32\.onnx is missing"):
        verify_variant(bundle, variant)


def test_a_models_directory_loads_every_bundle(
    make_manifest: MakeManifest, write_manifest: WriteManifest, tmp_path: Path
) -> None:
    write_manifest(make_manifest("a"))
    write_manifest(make_manifest("b"))
    assert [b.name for b in load_bundles(tmp_path)] == ["a", "b"]
    write_manifest(make_manifest("a"), directory="a-again")
    with pytest.raises(Exception, match=r"two bundles are named 'a'"):
        load_bundles(tmp_path)
