"""Per-variant facts the host and the planner share: memory need, refusal reasons, the worker spec."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Literal

from mlway.core.errors import MlwayError
from mlway.core.units import format_bytes
from mlway.runtime.backend import LoadSpec, backend_target, get_backend
from mlway.runtime.bundle import Bundle, check_file
from mlway.runtime.manifest import Variant
from mlway.runtime.messages import Ready, WorkerSpec
from mlway.runtime.settings import HostSettings
from mlway.runtime.worker import ExitCause, Worker

MemorySource = Literal["measured", "estimated"]


def memory_need(bundle: Bundle, variant: Variant) -> tuple[int, MemorySource]:
    """Bytes a worker serving ``variant`` needs: measured if the manifest has it, else the backend's estimate."""
    if variant.memory_bytes:
        return variant.memory_bytes, "measured"
    factory = get_backend(variant.backend)
    return factory(load_spec(bundle, variant, threads=1)).memory_estimate(), "estimated"


def refusal(bundle: Bundle, variant: Variant, *, verify: bool = True) -> str | None:
    """Why ``variant`` cannot be loaded here before even trying (engine missing, artefact bad), or None."""
    try:
        factory = get_backend(variant.backend)
    except MlwayError as exc:
        return str(exc)
    module = getattr(factory, "engine_module", None)
    if isinstance(module, str) and importlib.util.find_spec(module) is None:
        extra = getattr(factory, "extra", variant.backend)
        return f"{variant.name} refused: backend {variant.backend} needs {module} (pip install 'mlway[{extra}]')"
    if verify:
        problems = [p for p in (check_file(bundle, f) for f in variant.files) if p]
        if problems:
            return f"{variant.name} refused: {'; '.join(problems)}"
    return None


def load_spec(bundle: Bundle, variant: Variant, *, threads: int) -> LoadSpec:
    manifest = bundle.manifest
    return LoadSpec(
        model=manifest.name,
        variant=variant.name,
        entry=bundle.path_of(variant.entry),
        files=tuple(bundle.files_of(variant)),
        inputs=tuple(manifest.input_specs(variant)),
        outputs=tuple(manifest.outputs),
        threads=threads,
        options=dict(variant.options),
    )


def worker_spec(
    bundle: Bundle,
    variant: Variant,
    *,
    threads: int,
    cpu_ids: tuple[int, ...],
    memory_limit: int,
    max_concurrency: int,
    address_space_limit: bool = True,
) -> WorkerSpec:
    spec = load_spec(bundle, variant, threads=threads)
    return WorkerSpec(
        model=spec.model,
        variant=spec.variant,
        backend_target=backend_target(variant.backend),
        entry=str(spec.entry),
        files=tuple(str(f) for f in spec.files),
        inputs=spec.inputs,
        outputs=spec.outputs,
        threads=threads,
        cpu_ids=cpu_ids,
        memory_limit=memory_limit,
        max_concurrency=max_concurrency,
        options=dict(variant.options),
        address_space_limit=address_space_limit,
    )


def need_text(need: int, source: MemorySource) -> str:
    return f"{format_bytes(need)} ({source})"


def start_worker(
    bundle: Bundle,
    variant: Variant,
    cores: tuple[int, ...],
    settings: HostSettings,
    on_exit: Callable[[Worker, ExitCause], None],
) -> tuple[Worker, Ready] | str:
    """Start a worker for ``variant`` on ``cores`` under the model's quota and wait until it is warm;
    the reason (beginning with the variant's name) if it cannot serve."""
    quota = bundle.manifest.quota
    spec = worker_spec(
        bundle,
        variant,
        threads=quota.cpu_threads,
        cpu_ids=cores,
        memory_limit=quota.memory,
        max_concurrency=quota.max_concurrency,
        address_space_limit=settings.address_space_limit,
    )
    worker = Worker(spec, on_exit=on_exit, watchdog_interval=settings.watchdog_interval_s)
    try:
        return worker, worker.start(settings.load_timeout_s)
    except MlwayError as exc:
        return exc.message if exc.message.startswith(variant.name) else f"{variant.name}: {exc.message}"
