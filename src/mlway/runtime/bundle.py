"""Bundles on disk: read and write the manifest, check artefacts against their sha256.

models/harvest-cam/
    mlway-bundle.yaml      the manifest (or mlway-bundle.json)
    fp32.onnx  int8.onnx   the artefacts, paths relative to the bundle directory
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlway.core.errors import InputError, NotFoundError
from mlway.runtime.backend import backend_kinds
from mlway.runtime.errors import BundleError, IntegrityError
from mlway.runtime.manifest import BundleManifest, Variant, VariantFile
from mlway.runtime.validation import describe_validation_error

MANIFEST_NAMES = ("mlway-bundle.yaml", "mlway-bundle.yml", "mlway-bundle.json")


@dataclass(frozen=True)
class Bundle:
    """A manifest and the directory its paths are relative to."""

    directory: Path
    manifest: BundleManifest
    manifest_path: Path

    @property
    def name(self) -> str:
        return self.manifest.name

    def path_of(self, relative: str) -> Path:
        return self.directory / relative

    def files_of(self, variant: Variant) -> list[Path]:
        return [self.directory / f.path for f in variant.files]


def find_manifest(path: Path) -> Path:
    """The manifest file of a bundle directory (or the path itself if it is a manifest file)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise NotFoundError(f"no bundle at {path}", hint="give a bundle directory holding mlway-bundle.yaml")
    for name in MANIFEST_NAMES:
        if (path / name).is_file():
            return path / name
    raise NotFoundError(f"{path} has no manifest", hint=f"write one of {', '.join(MANIFEST_NAMES)} in it")


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read and validate a bundle's manifest; errors name the field path, the value and the fix."""
    manifest_path = find_manifest(Path(path))
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read {manifest_path}: {exc}") from exc
    try:
        data: Any = json.loads(text) if manifest_path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid {manifest_path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{manifest_path} must hold a mapping of fields, not {type(data).__name__}")
    try:
        manifest = BundleManifest.model_validate(data)
    except ValidationError as exc:
        raise BundleError(describe_validation_error(exc, str(manifest_path), data)) from exc
    kinds = backend_kinds()
    for index, variant in enumerate(manifest.variants):
        if variant.backend not in kinds:
            raise BundleError(
                f"{manifest_path}: variants.{index}.backend = {variant.backend!r} is not a backend kind",
                hint=f"use one of: {', '.join(kinds)}",
            )
    return Bundle(directory=manifest_path.parent, manifest=manifest, manifest_path=manifest_path)


def load_bundles(directory: str | os.PathLike[str]) -> list[Bundle]:
    """Every bundle in ``directory`` (each subdirectory with a manifest), or the directory itself if it is one."""
    root = Path(directory)
    if any((root / name).is_file() for name in MANIFEST_NAMES):
        return [load_bundle(root)]
    if not root.is_dir():
        raise NotFoundError(f"no models directory at {root}")
    bundles = [load_bundle(d) for d in sorted(root.iterdir()) if any((d / n).is_file() for n in MANIFEST_NAMES)]
    if not bundles:
        raise NotFoundError(f"{root} holds no bundles", hint="each model is a subdirectory with mlway-bundle.yaml")
    seen: dict[str, Path] = {}
    for bundle in bundles:
        if bundle.name in seen:
            raise InputError(f"two bundles are named {bundle.name!r}: {seen[bundle.name]} and {bundle.directory}")
        seen[bundle.name] = bundle.directory
    return bundles


def write_manifest(directory: str | os.PathLike[str], manifest: BundleManifest, *, as_json: bool = False) -> Bundle:
    """Write a new bundle's manifest into ``directory`` (beside its artefacts); for packagers and exporters."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    path = root / ("mlway-bundle.json" if as_json else "mlway-bundle.yaml")
    return save_manifest(Bundle(directory=root, manifest=manifest, manifest_path=path))


def save_manifest(bundle: Bundle, manifest: BundleManifest | None = None) -> Bundle:
    """Write ``manifest`` (default: the bundle's own) to the bundle's manifest file atomically."""
    manifest = manifest or bundle.manifest
    data = _prune(manifest.model_dump(mode="json", exclude_none=True))
    if bundle.manifest_path.suffix == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    fd, tmp = tempfile.mkstemp(dir=bundle.directory, prefix=".mlway-bundle-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(bundle.manifest_path)
    return Bundle(directory=bundle.directory, manifest=manifest, manifest_path=bundle.manifest_path)


def _prune(data: Any) -> Any:
    """Drop empty lists, mappings and strings below the top level, so a manifest stays short."""
    if isinstance(data, dict):
        return {k: _prune(v) for k, v in data.items() if v not in ({}, [], "")}
    if isinstance(data, list):
        return [_prune(v) for v in data]
    return data


_hash_cache: dict[tuple[str, int, int, int], str] = {}
_hash_lock = threading.Lock()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file; cached while its inode, size and mtime stay the same."""
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def file_entry(directory: Path, relative: str) -> VariantFile:
    """A manifest entry (path, sha256, bytes) for a file in the bundle directory; for packagers."""
    path = directory / relative
    return VariantFile(path=relative, sha256=sha256_of(path), bytes=path.stat().st_size)


def check_file(bundle: Bundle, entry: VariantFile) -> str | None:
    """Why the file does not match its entry (missing, wrong size, wrong sha256), or None if it does."""
    path = bundle.path_of(entry.path)
    if not path.is_file():
        return f"{entry.path} is missing"
    if entry.bytes is not None and path.stat().st_size != entry.bytes:
        return f"{entry.path} has {path.stat().st_size} bytes, the manifest says {entry.bytes}"
    actual = sha256_of(path)
    if actual != entry.sha256:
        return f"sha256 mismatch for {entry.path} (manifest {entry.sha256[:12]}…, file {actual[:12]}…)"
    return None


def verify_variant(bundle: Bundle, variant: Variant) -> None:
    """Raise ``IntegrityError`` naming every file of ``variant`` that does not match the manifest."""
    problems = [p for p in (check_file(bundle, f) for f in variant.files) if p]
    if problems:
        raise IntegrityError(
            f"variant {variant.name!r} of {bundle.name!r} refused: {'; '.join(problems)}",
            hint="restore the artefact, or re-package the bundle if the change is intended",
        )
