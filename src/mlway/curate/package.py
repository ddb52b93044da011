"""Package exported models as an ``mlway.runtime`` bundle: variants in order, quality, speed and memory.

    fp32           fp32.onnx at the full input size            most accurate, preferred when it fits
    int8           int8.onnx (static QDQ) at the full size     ~3x faster on CPUs with VNNI
    int8-<w>x<h>   int8.onnx at the reduced input size         for weak hardware (the talk's fallback)

The reduced variant reuses the int8 file: the network is fully convolutional and was trained at both
sizes, so only the declared input shape differs. Each variant's ``metrics`` hold its accuracy on the
validation machines (unseen camera poses); ``mlway runtime measure`` fills latency and memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlway.core.errors import MlwayError
from mlway.curate.dataset import CLASSES, Size
from mlway.curate.export import INPUT
from mlway.runtime import (
    Bundle,
    BundleManifest,
    ImagePreprocessing,
    Quota,
    Variant,
    file_entry,
    load_bundle,
    measure_bundle,
    save_manifest,
    write_manifest,
)
from mlway.runtime.measure import VariantMeasurement

MIB = 1024**2
DEFAULT_QUOTA = 256 * MIB


@dataclass(frozen=True)
class VariantPlan:
    """One variant to write: its name, file, input size, quality metrics and a line for people."""

    name: str
    entry: str
    size: Size
    metrics: Mapping[str, float]
    description: str


def write_bundle(directory: Path, *, name: str, version: str, full: Size, variants: list[VariantPlan],
                 description: str) -> Bundle:  # fmt: skip
    """Write the manifest (sha256 of every file) next to the ONNX files already in ``directory``."""
    width, height = full
    entries = [
        Variant(
            name=plan.name,
            backend="onnxruntime",
            entry=plan.entry,
            files=[file_entry(directory, plan.entry)],
            input_shapes={} if plan.size == full else {INPUT: ["batch", 3, plan.size[1], plan.size[0]]},
            metrics=dict(plan.metrics),
            description=plan.description,
        )
        for plan in variants
    ]
    manifest = BundleManifest(
        name=name,
        version=version,
        task="classify",
        description=description,
        inputs=[{"name": INPUT, "dtype": "float32", "shape": ["batch", 3, height, width]}],  # type: ignore[list-item]
        outputs=[
            {"name": "probs", "dtype": "float32", "shape": ["batch", len(CLASSES)]},  # type: ignore[list-item]
            {"name": "logits", "dtype": "float32", "shape": ["batch", len(CLASSES)]},  # type: ignore[list-item]
        ],
        preprocessing=ImagePreprocessing(input=INPUT, layout="NCHW", color="RGB", resize="stretch", scale=1 / 255),
        labels=list(CLASSES),
        variants=entries,
        # one core: a frame takes well under a millisecond on one thread, far more than cameras deliver, and the
        # runtime never shares cores, so asking for two would block a neighbour on a two-core board
        quota=Quota(memory=DEFAULT_QUOTA, cpu_threads=1),
    )
    write_manifest(directory, manifest)
    return load_bundle(directory)


def measure(bundle: Bundle, threads: list[int], progress: Callable[[str], None] | None = None) -> Bundle:
    """Measure every variant in a runtime worker at ``threads``; set the quota to 1.5x the largest peak RSS."""
    measured, report = measure_bundle(bundle, threads=threads, batches=(1,), iterations=100, max_seconds=4.0,
                                      progress=progress)  # fmt: skip
    failed = [r for r in report if r.error]
    if failed:
        raise MlwayError("measuring the bundle failed: " + "; ".join(f"{r.variant}: {r.error}" for r in failed))
    peak = max((r.memory_bytes or 0) for r in report)
    return _with_quota(measured, peak, report)


def _with_quota(bundle: Bundle, peak: int, report: list[VariantMeasurement]) -> Bundle:
    if not peak or not report:
        return bundle
    memory = max(DEFAULT_QUOTA // 2, math.ceil(peak * 1.5 / (32 * MIB)) * 32 * MIB)
    data = bundle.manifest.model_dump()
    data["quota"]["memory"] = memory
    return save_manifest(bundle, BundleManifest.model_validate(data))
