"""Manifests written by hand (no model files needed unless a test builds them)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

GIB = 1024**3
MIB = 1024**2


def manifest_dict(name: str = "cam", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "task": "classify",
        "inputs": [{"name": "image", "dtype": "float32", "shape": ["batch", 3, 224, 224]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 4]}],
        "labels": ["idle", "harvesting", "unloading", "unloading_failure"],
        "variants": [
            {"name": "fp32", "backend": "onnxruntime", "entry": "fp32.onnx",
             "files": [{"path": "fp32.onnx", "sha256": "0" * 64}]},
        ],
        "quota": {"memory": "512MiB"},
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[..., Path]:
    """Write a manifest (and, for each variant, a small artefact whose sha256 matches) into a new bundle dir."""

    def write(data: dict[str, Any], *, directory: str | None = None, artefacts: bool = True) -> Path:
        root = tmp_path / (directory or data.get("name", "bundle"))
        root.mkdir(parents=True, exist_ok=True)
        if artefacts:
            for variant in data.get("variants", []):
                for entry in variant.get("files", []):
                    content = f"{data['name']}/{variant['name']}/{entry['path']}".encode()
                    (root / entry["path"]).write_bytes(content)
                    entry["sha256"] = hashlib.sha256(content).hexdigest()
        (root / "mlway-bundle.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        return root

    return write


@pytest.fixture
def make_manifest() -> Callable[..., dict[str, Any]]:
    return manifest_dict
