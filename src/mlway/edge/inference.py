"""The model on the device: the bundle's best variant that fits, its preprocessing, class probabilities per frame.

    model = load_model(ModelConfig(name="harvest-cam"), required_fps=10.0)
    model.variant, model.reason          # "int8", "int8: fits 1.2 GiB free memory; measured 310 fps >= 10"
    probs = model.scores(rgb_frame)      # one probability per label

``variant: auto`` walks the bundle's variants in preference order and takes the first that is not
refused (engine missing, artefact sha256 mismatch), fits the device's available memory and the
bundle's quota, and -- where the manifest holds a measurement at the agent's thread count -- reaches
the frames per second the cameras ask for. With ``isolation: in-process`` the backend runs inside the
agent (no copy, no IPC: the fastest); with ``worker`` it runs in a runtime worker process under its
quota, restarted if it crashes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mlway.assets import bundled_model_path, bundled_models
from mlway.core.errors import ConfigError, MlwayError, NotFoundError
from mlway.core.units import format_bytes
from mlway.edge.config import ModelConfig
from mlway.edge.preprocess import ImagePreprocessor
from mlway.edge.sources.base import Frame
from mlway.runtime import (
    Budget,
    Bundle,
    HostSettings,
    ImagePreprocessing,
    LoadSpec,
    ModelHost,
    get_backend,
    load_bundle,
    verify_variant,
)
from mlway.runtime.limits import available_cpus
from mlway.runtime.manifest import Variant
from mlway.runtime.placement import choose_variant

log = logging.getLogger(__name__)


def find_bundle(name: str) -> Bundle:
    """A bundled model by name, or a bundle directory by path."""
    path = Path(name)
    if "/" in name or name.startswith(".") or path.exists():
        return load_bundle(path)
    try:
        return load_bundle(bundled_model_path(name))
    except NotFoundError as exc:
        raise ConfigError(
            f"model.name {name!r} is neither a bundled model nor a bundle directory",
            hint=f"bundled models: {', '.join(bundled_models()) or 'none'}; or give a path to a bundle directory",
        ) from exc


def device_memory() -> int:
    """Bytes of memory available now (Linux MemAvailable; else physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@dataclass(frozen=True)
class VariantPick:
    variant: Variant
    threads: int
    reason: str


def _measured_fps(variant: Variant, threads: int) -> float | None:
    """Frames/s at batch 1 with at most ``threads`` threads, from the manifest's measurements."""
    rows = [m for m in variant.measurements if m.batch == 1 and m.threads <= threads]
    if not rows:
        return None
    best = max(rows, key=lambda m: m.threads)
    return best.throughput_per_s


def pick_variant(bundle: Bundle, config: ModelConfig, *, required_fps: float | None,
                 memory: int | None = None) -> VariantPick:  # fmt: skip
    """The variant to run (see the module docstring) and why."""
    threads = config.threads or len(available_cpus())
    names = [v.name for v in bundle.manifest.variants]
    if config.variant != "auto":
        if config.variant not in names:
            raise ConfigError(f"model.variant {config.variant!r} is not a variant of {bundle.name!r}",
                              hint=f"use 'auto' or one of: {', '.join(names)}")  # fmt: skip
        return VariantPick(
            bundle.manifest.variant(config.variant), threads, f"{config.variant}: asked for by model.variant"
        )
    free = memory if memory is not None else device_memory()
    budget = Budget(memory=max(free, 16 * 1024**2), cpus=1)
    skip: dict[str, str] = {}
    fallback: tuple[float, Variant, str] | None = None
    for _ in names:
        chosen, choices = choose_variant(bundle, free_memory=free, budget=budget, skip=skip)
        if chosen is None:
            break
        variant = bundle.manifest.variants[chosen]
        passed = [c.reason for c in choices[:chosen] if c.reason and c.variant not in skip]
        fps = _measured_fps(variant, threads)
        if required_fps is None or fps is None or fps >= required_fps:
            speed = f"measured {fps:g} frames/s at {threads} thread(s)" if fps is not None else "speed not measured"
            why = "; ".join([*passed, *skip.values()]) or f"first choice, fits {format_bytes(free)} free memory"
            return VariantPick(variant, threads, f"{variant.name}: {why}; {speed}")
        too_slow = f"{variant.name} measured {fps:g} frames/s at {threads} thread(s) < {required_fps:g} the cameras ask"
        if fallback is None or fps > fallback[0]:
            fallback = (fps, variant, too_slow)
        skip[variant.name] = too_slow
    if fallback is not None:
        fps, variant, _ = fallback
        why = "; ".join(skip.values())
        return VariantPick(variant, threads, f"{variant.name}: none reaches the cameras' fps ({why}); the fastest")
    _, choices = choose_variant(bundle, free_memory=free, budget=budget)
    raise ConfigError(f"no variant of {bundle.name!r} can run here: " + "; ".join(c.reason for c in choices),
                      hint="free memory, install the engine the variants need, or give another model")  # fmt: skip


class Engine(Protocol):
    def run(self, inputs: dict[str, NDArray[np.float32]]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


def _options(variant: Variant) -> dict[str, str | int | float | bool]:
    """The variant's backend options; for onnxruntime, idle intra-op threads do not spin unless the variant
    says so: in the agent the model shares the cores with the decoders, which spinning threads starve."""
    options = dict(variant.options)
    if variant.backend == "onnxruntime":
        options.setdefault("allow_spinning", False)
    return options


class InProcessEngine:
    """The backend loaded in this process."""

    def __init__(self, bundle: Bundle, variant: Variant, threads: int) -> None:
        verify_variant(bundle, variant)
        manifest = bundle.manifest
        spec = LoadSpec(
            model=manifest.name,
            variant=variant.name,
            entry=bundle.path_of(variant.entry),
            files=tuple(bundle.files_of(variant)),
            inputs=tuple(manifest.input_specs(variant)),
            outputs=tuple(manifest.outputs),
            threads=threads,
            options=_options(variant),
        )
        self._backend = get_backend(variant.backend)(spec)
        self._backend.load()
        self._backend.warm_up()

    def run(self, inputs: dict[str, NDArray[np.float32]]) -> dict[str, np.ndarray]:
        return self._backend.infer(inputs)

    def close(self) -> None:
        self._backend.unload()


class WorkerEngine:
    """The variant in a runtime worker process under the bundle's quota (restarted if it crashes)."""

    def __init__(self, bundle: Bundle, variant: Variant, threads: int, timeout_s: float = 10.0) -> None:
        manifest = bundle.manifest.model_copy(
            update={"variants": [variant], "quota": bundle.manifest.quota.model_copy(update={"cpu_threads": threads})}
        )
        only = Bundle(directory=bundle.directory, manifest=manifest, manifest_path=bundle.manifest_path)
        self._name = bundle.name
        self._timeout = timeout_s
        self._host = ModelHost(HostSettings(request_timeout_s=timeout_s))
        status = self._host.start([only], Budget(memory=manifest.quota.memory, cpus=threads))
        model = status.models[0]
        if model.state != "ready":
            self._host.stop()
            raise MlwayError(f"model {bundle.name!r} did not start in a worker: {model.reason}")

    def run(self, inputs: dict[str, NDArray[np.float32]]) -> dict[str, np.ndarray]:
        return dict(self._host.infer(self._name, inputs, timeout=self._timeout))

    def close(self) -> None:
        self._host.stop()


class Model:
    """A loaded classifier: frames in, class probabilities out."""

    def __init__(self, bundle: Bundle, pick: VariantPick, isolation: str) -> None:
        manifest = bundle.manifest
        if manifest.task != "classify" or not manifest.labels:
            raise ConfigError(f"model {bundle.name!r} is a {manifest.task!r} model without labels",
                              hint="the edge agent runs classify bundles that list their labels")  # fmt: skip
        inputs = manifest.input_specs(pick.variant)
        spec = manifest.preprocessing
        if spec is None:
            spec = ImagePreprocessing(input=inputs[0].name)
        if not isinstance(spec, ImagePreprocessing):
            raise ConfigError(f"model {bundle.name!r} declares {spec.kind} preprocessing; the agent needs images")
        tensor = next((t for t in inputs if t.name == spec.input), None)
        if tensor is None:
            raise ConfigError(f"preprocessing.input {spec.input!r} is not an input of {bundle.name!r}")
        self.bundle = bundle
        self.name = bundle.name
        self.version = manifest.version
        self.labels: list[str] = list(manifest.labels)
        self.variant = pick.variant.name
        self.threads = pick.threads
        self.reason = pick.reason
        self.isolation = isolation
        self.preprocess = ImagePreprocessor(spec, tensor)
        self._input = tensor.name
        batch_dim = tensor.shape[0]
        self.max_batch = batch_dim if isinstance(batch_dim, int) else 64
        """Frames per inference call the variant accepts (a fixed batch dimension, else 64)."""
        outputs = [o.name for o in manifest.outputs]
        self._output = "probs" if "probs" in outputs else outputs[0]
        engine: Engine = (WorkerEngine if isolation == "worker" else InProcessEngine)(
            bundle, pick.variant, pick.threads
        )
        self._engine = engine

    @property
    def decode_size(self) -> tuple[int, int] | None:
        """(width, height) sources may scale frames to while decoding: a plain stretch to the input size."""
        spec = self.preprocess.spec
        if spec.resize != "stretch" or spec.color == "GRAY":
            return None
        return self.preprocess.width, self.preprocess.height

    @property
    def model_version(self) -> str:
        return f"{self.name}@{self.version}/{self.variant}"

    def scores(self, rgb: NDArray[np.uint8]) -> list[float]:
        """Class probabilities (in label order) of one RGB frame."""
        return self.scores_of(self.preprocess(rgb))

    def scores_of(self, batch: NDArray[np.float32]) -> list[float]:
        return self._probabilities(batch)[0]

    def scores_batch(self, frames: list[NDArray[np.uint8]]) -> list[list[float]]:
        """Class probabilities of several frames in one inference call (at most ``max_batch``)."""
        if len(frames) == 1:
            return self._probabilities(self.preprocess(frames[0]))
        return self._probabilities(np.concatenate([self.preprocess(f) for f in frames]))

    def scores_frames(self, frames: Sequence[Frame]) -> list[list[float]]:
        """Class probabilities of frames (preprocessed by their source thread, or here), in one call."""
        tensors = [f.tensor if f.tensor is not None else self.preprocess(f.pixels) for f in frames]
        return self._probabilities(tensors[0] if len(tensors) == 1 else np.concatenate(tensors))

    def _probabilities(self, batch: NDArray[np.float32]) -> list[list[float]]:
        out = np.asarray(self._engine.run({self._input: batch})[self._output], np.float64)
        rows = out.reshape(len(batch), -1)[:, : len(self.labels)].tolist()
        return [row if _is_distribution(row) else _softmax(row) for row in rows]

    def close(self) -> None:
        self._engine.close()


def _is_distribution(values: list[float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values) and abs(sum(values) - 1.0) < 1e-3


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def load_model(config: ModelConfig, *, required_fps: float | None = None, memory: int | None = None) -> Model:
    """Find the bundle, pick the variant, load it (in-process or in a worker) and warm it up."""
    bundle = find_bundle(config.name)
    pick = pick_variant(bundle, config, required_fps=required_fps, memory=memory)
    log.info("model %s@%s: %s", bundle.name, bundle.manifest.version, pick.reason)
    return Model(bundle, pick, config.isolation)


def describe(model: Model) -> dict[str, Any]:
    return {"name": model.name, "version": model.version, "variant": model.variant, "threads": model.threads,
            "isolation": model.isolation, "reason": model.reason}  # fmt: skip
