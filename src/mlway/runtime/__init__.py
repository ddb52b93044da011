"""``mlway.runtime``: model bundles with fallback variants, served by worker processes under quotas.

Used by ``mlway serve`` (the HTTP server) and the edge agent. Install with ``pip install 'mlway[serve]'``.

Bundles
    ``load_bundle(path) -> Bundle`` reads and validates ``mlway-bundle.yaml`` (or ``.json``): name,
    version, task, inputs/outputs, preprocessing, labels, an ordered list of variants (each with a
    backend kind, files with sha256, measured memory and speed), quota, priority, pinned.
    ``load_bundles(dir)``, ``save_manifest(bundle, manifest)``, ``verify_variant(bundle, variant)``;
    for packagers: ``file_entry(dir, relpath)`` (a file's path, sha256 and size) and
    ``write_manifest(dir, BundleManifest(...))``.
    ``measure_bundle(bundle, threads=[1, 2])`` measures each variant in a real worker and writes
    ``memory_bytes`` and ``measurements`` into the manifest.

Placement
    ``plan_placement(bundles, Budget(memory="6GiB", cpus=2)) -> Placement``: the dry run; per model
    the chosen variant, its cores and the reason, and every variant's verdict.

Hosting
    ::

        with ModelHost() as host:
            host.start(load_bundles("models/"), Budget(memory="6GiB", cpus=2))
            outputs = host.infer("harvest-cam", {"image": batch}, timeout=2.0)   # blocking
            future = host.submit("harvest-cam", {"image": batch})                # concurrent.futures.Future
            outputs = await host.infer_async("harvest-cam", {"image": batch})    # asyncio
            host.status()                      # HostStatus: per model state, variant, reason, RSS, counters
            host.swap("harvest-cam", bundle=load_bundle("models-v2/harvest-cam"))  # no downtime
            host.swap("harvest-cam")           # reload: promote back to the first variant that fits
            host.add(bundle); host.remove("name")

    Each model runs in its own OS process pinned to its own cores, with ``cpu_threads`` intra-op
    threads, an RSS watchdog at its memory quota and an address-space cap as a backstop. A breach
    moves the model to its next variant; a crash restarts it (then moves on); the requests the dead
    worker held fail at once, queued ones wait for the replacement up to their deadline.

Backends
    ``Backend`` (protocol: memory_estimate, load, warm_up, infer, unload), ``LoadSpec``,
    ``register_backend(kind, "pkg.module:Factory")``, ``backend_kinds()``, ``get_backend(kind)``.
    Built in: ``onnxruntime`` (CPU; CUDA provider when present), ``openvino`` (extra ``openvino``),
    ``rknn-lite`` (extra ``rknn``, Rockchip boards).

Errors (see ``mlway.runtime.errors``): BundleError, IntegrityError, OverloadedError (429),
DeadlineExceededError (504), ModelUnavailableError (503), WorkerCrashedError, QuotaExceededError,
BudgetError; plus ``mlway.core``'s InputError (400), NotFoundError (404), DependencyMissingError.

Test models: ``mlway.runtime.testing`` builds tiny ONNX models and bundles locally.
"""

from mlway.runtime.backend import Backend, LoadSpec, backend_kinds, get_backend, register_backend
from mlway.runtime.budget import Budget
from mlway.runtime.bundle import (
    Bundle,
    file_entry,
    load_bundle,
    load_bundles,
    save_manifest,
    verify_variant,
    write_manifest,
)
from mlway.runtime.errors import (
    BudgetError,
    BundleError,
    DeadlineExceededError,
    IntegrityError,
    ModelUnavailableError,
    OverloadedError,
    QuotaExceededError,
    WorkerCrashedError,
)
from mlway.runtime.host import ModelHost
from mlway.runtime.manifest import Batching, BundleManifest, Measurement, Quota, Variant, VariantFile
from mlway.runtime.measure import VariantMeasurement, measure_bundle
from mlway.runtime.placement import ModelPlacement, Placement, VariantChoice, plan_placement
from mlway.runtime.preprocessing import ImagePreprocessing, TextPreprocessing
from mlway.runtime.settings import HostSettings
from mlway.runtime.status import HostStatus, ModelEvent, ModelStatus
from mlway.runtime.tensors import TensorSpec

__all__ = [
    "Backend",
    "Batching",
    "Budget",
    "BudgetError",
    "Bundle",
    "BundleError",
    "BundleManifest",
    "DeadlineExceededError",
    "HostSettings",
    "HostStatus",
    "ImagePreprocessing",
    "IntegrityError",
    "LoadSpec",
    "Measurement",
    "ModelEvent",
    "ModelHost",
    "ModelPlacement",
    "ModelStatus",
    "ModelUnavailableError",
    "OverloadedError",
    "Placement",
    "Quota",
    "QuotaExceededError",
    "TensorSpec",
    "TextPreprocessing",
    "Variant",
    "VariantChoice",
    "VariantFile",
    "VariantMeasurement",
    "WorkerCrashedError",
    "backend_kinds",
    "file_entry",
    "get_backend",
    "load_bundle",
    "load_bundles",
    "measure_bundle",
    "plan_placement",
    "register_backend",
    "save_manifest",
    "verify_variant",
    "write_manifest",
]
