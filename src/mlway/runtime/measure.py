"""Measure each variant on this machine, in a real worker process, and write it into the manifest.

For every variant and thread count a worker is started (pinned to that many cores, no quota), the
backend is warmed, then timed inside the worker on dummy inputs (so pipe overhead is not counted).
The worker's peak RSS is the variant's ``memory_bytes`` (the largest over the runs): what admission
reserves for it from then on.
"""

from __future__ import annotations

import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlway.core.errors import InputError, MlwayError
from mlway.runtime.bundle import Bundle, save_manifest, verify_variant
from mlway.runtime.limits import available_cpus
from mlway.runtime.manifest import Measurement, Variant
from mlway.runtime.variants import worker_spec
from mlway.runtime.worker import Worker

UNLIMITED = 1 << 50


@dataclass(frozen=True)
class VariantMeasurement:
    """What one variant measured (or why it could not be)."""

    variant: str
    memory_bytes: int | None
    measurements: tuple[Measurement, ...]
    error: str | None = None


def machine_name() -> str:
    """``"AMD EPYC 9R14, 2 cores"``: the CPU model and how many cores this process may use."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(available_cpus())} cores"


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure_variant(
    bundle: Bundle,
    variant: Variant,
    *,
    threads: int,
    batches: Sequence[int],
    iterations: int,
    max_seconds: float,
    load_timeout: float = 300.0,
) -> list[Measurement]:
    """Time ``variant`` at each batch size with ``threads`` intra-op threads in one fresh worker."""
    cpus = available_cpus()
    if threads > len(cpus):
        raise InputError(f"cannot measure with {threads} threads: this process may use {len(cpus)} cores")
    spec = worker_spec(
        bundle,
        variant,
        threads=threads,
        cpu_ids=tuple(cpus[:threads]),
        memory_limit=UNLIMITED,
        max_concurrency=1,
        address_space_limit=False,
    )
    worker = Worker(spec)
    worker.start(load_timeout)
    machine, results = machine_name(), []
    try:
        for batch in batches:
            reply = worker.measure(batch, iterations, max_seconds).result()
            mean = statistics.fmean(reply.latencies)
            results.append(
                Measurement(
                    threads=threads,
                    batch=batch,
                    latency_p50_ms=round(statistics.median(reply.latencies) * 1e3, 4),
                    latency_p90_ms=round(_percentile(reply.latencies, 0.9) * 1e3, 4),
                    throughput_per_s=round(batch / mean, 2),
                    rss_bytes=max(reply.peak_rss_bytes, worker.peak_rss),
                    machine=machine,
                    measured_at=datetime.now(UTC).replace(microsecond=0),
                )
            )
    finally:
        worker.stop(drain_timeout=5)
    return results


def measure_bundle(
    bundle: Bundle,
    *,
    threads: Sequence[int] = (1,),
    batches: Sequence[int] = (1,),
    iterations: int = 50,
    max_seconds: float = 10.0,
    variants: Sequence[str] | None = None,
    write: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[Bundle, list[VariantMeasurement]]:
    """Measure the bundle's variants and (with ``write``) save them into its manifest.

    Earlier measurements of the same machine, thread count and batch size are replaced; others kept.
    A variant that cannot be measured (bad sha256, missing engine, load failure) keeps its old numbers.
    """
    manifest = bundle.manifest
    names = list(variants) if variants else [v.name for v in manifest.variants]
    unknown = sorted(set(names) - {v.name for v in manifest.variants})
    if unknown:
        raise InputError(
            f"no variant(s) {unknown} in {bundle.name!r}", hint=f"variants: {[v.name for v in manifest.variants]}"
        )
    updated: list[Variant] = []
    report: list[VariantMeasurement] = []
    for variant in manifest.variants:
        if variant.name not in names:
            updated.append(variant)
            continue
        if progress:
            progress(f"{variant.name}: threads {', '.join(map(str, threads))}, batch {', '.join(map(str, batches))}")
        try:
            verify_variant(bundle, variant)
            fresh = [
                m
                for t in threads
                for m in measure_variant(
                    bundle, variant, threads=t, batches=batches, iterations=iterations, max_seconds=max_seconds
                )
            ]
        except MlwayError as exc:
            report.append(VariantMeasurement(variant.name, variant.memory_bytes, (), error=str(exc)))
            updated.append(variant)
            continue
        keys = {(m.machine, m.threads, m.batch) for m in fresh}
        kept = [m for m in variant.measurements if (m.machine, m.threads, m.batch) not in keys]
        memory = max(m.rss_bytes for m in fresh)
        updated.append(variant.model_copy(update={"memory_bytes": memory, "measurements": kept + fresh}))
        report.append(VariantMeasurement(variant.name, memory, tuple(fresh)))
    new_manifest = manifest.model_validate({**manifest.model_dump(), "variants": [v.model_dump() for v in updated]})
    result = (
        save_manifest(bundle, new_manifest) if write else Bundle(bundle.directory, new_manifest, bundle.manifest_path)
    )
    return result, report
