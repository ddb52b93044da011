"""Real bundles of tiny ONNX models (built once per session) and a helper to wait for host states."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlway.runtime import Bundle, ModelHost, load_bundle
from mlway.runtime.testing import write_bundle

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    write_bundle(root / "heavy", name="heavy", hidden=1024, memory="300MiB")
    write_bundle(root / "cam", name="cam", kind="conv", variants=("fp32", "int8", "int8-small"))
    return {"heavy": root / "heavy", "cam": root / "cam"}


@pytest.fixture
def bundle_copy(built: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of a built bundle directory, free to tamper with or rewrite."""

    def copy(name: str, as_name: str | None = None) -> Path:
        target = tmp_path / (as_name or name)
        shutil.copytree(built[name], target)
        return target

    return copy


@pytest.fixture
def host() -> Iterator[ModelHost]:
    model_host = ModelHost()
    try:
        yield model_host
    finally:
        model_host.stop()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``predicate`` holds; fail naming ``what`` after ``timeout`` (a hang guard, not a speed test)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def waiter() -> Callable[..., None]:
    return wait_until


def with_manifest(path: Path, **changes: object) -> Bundle:
    """Load the bundle at ``path`` with top-level manifest fields changed (and saved)."""
    from mlway.runtime import save_manifest  # noqa: PLC0415

    bundle = load_bundle(path)
    data = bundle.manifest.model_dump()
    data.update(changes)
    return save_manifest(bundle, bundle.manifest.model_validate(data))


@pytest.fixture
def edit() -> Callable[..., Bundle]:
    return with_manifest
