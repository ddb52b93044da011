"""The backend protocol every inference engine implements, and the registry that finds one by kind.

Lifecycle, always in this order and always inside a worker process::

    backend = factory(spec)        cheap: no heavy import, no file read
    backend.memory_estimate()      may be called before load (admission without a measurement)
    backend.load()                 imports the engine lazily, reads the entry file, builds a session
    backend.warm_up()              runs the first inference(s) so the first request is not slow
    backend.infer(inputs) ...      a batch of named arrays in, named arrays out; thread-safe
    backend.unload()               releases the session; the worker exits after it

A missing engine package raises ``DependencyMissingError`` from ``load`` with the pip command; the
runtime then tries the model's next variant. New kinds register with :func:`register_backend`
as an import path (``"package.module:Factory"``), because the factory is resolved again inside each
fresh worker process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from mlway.core.errors import ConfigError
from mlway.runtime.tensors import TensorSpec

OptionValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What a backend needs to load one variant: files, tensor specs, threads, options."""

    model: str
    variant: str
    entry: Path
    files: tuple[Path, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    threads: int = 1
    options: Mapping[str, OptionValue] = field(default_factory=dict)


class Backend(Protocol):
    """One loaded variant in one worker process. See the module docstring for the lifecycle."""

    def memory_estimate(self) -> int:
        """Bytes of resident memory this variant is expected to need once loaded (before measuring)."""
        ...

    def load(self) -> None:
        """Import the engine and build the session; raise on any failure (the worker reports it)."""
        ...

    def warm_up(self) -> None:
        """Run inference on dummy inputs so lazy allocations and kernel selection happen now."""
        ...

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: inputs by name (already checked against the specs) to outputs by name."""
        ...

    def unload(self) -> None:
        """Drop the session and its memory."""
        ...


BackendFactory = Callable[[LoadSpec], Backend]

_BUILTIN: dict[str, str] = {
    "onnxruntime": "mlway.runtime.backends.onnxruntime:OnnxRuntimeBackend",
    "openvino": "mlway.runtime.backends.openvino:OpenVinoBackend",
    "rknn-lite": "mlway.runtime.backends.rknn:RknnLiteBackend",
}
_registered: dict[str, str] = {}


def register_backend(kind: str, target: str) -> None:
    """Make ``kind`` usable in manifests; ``target`` is ``"package.module:Factory"``."""
    if ":" not in target:
        raise ConfigError(f"backend target {target!r} for {kind!r} is not 'package.module:Factory'")
    _registered[kind] = target


def backend_kinds() -> list[str]:
    """Every kind a manifest may name, built in or registered."""
    return sorted({*_BUILTIN, *_registered})


def backend_target(kind: str) -> str:
    """The import path of ``kind``'s factory; an unknown kind raises ``ConfigError`` listing the valid ones."""
    target = _registered.get(kind) or _BUILTIN.get(kind)
    if target is None:
        raise ConfigError(f"unknown backend kind {kind!r}", hint=f"use one of: {', '.join(backend_kinds())}")
    return target


def get_backend(kind: str) -> BackendFactory:
    """The factory for ``kind`` (imports its module, never the engine itself)."""
    return resolve_target(backend_target(kind))


def resolve_target(target: str) -> BackendFactory:
    """Import ``"package.module:Factory"``."""
    module_name, _, attr = target.partition(":")
    factory: BackendFactory = getattr(importlib.import_module(module_name), attr)
    return factory
