"""``ModelHost``: many models on one device, each in its own worker process under its quota.

The composition root of the runtime. ``start`` admits models in placement order (pinned, priority,
name), loading each one's first variant that fits its quota and the free budget. Requests go to the
serving worker; while a worker is being replaced they wait in the model's queue (up to their
deadline). A worker that breaches its memory quota is replaced by the next variant; one that crashes
is restarted (``max_restarts`` within ``restart_window_s``), then replaced by the next variant. Every
load, fallback, reload and update goes through one swap primitive: load the new worker, warm it,
switch requests to it, then drain and stop the old one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

from mlway.core.errors import ConfigError, MlwayError, NotFoundError
from mlway.core.units import format_bytes
from mlway.runtime.admission import eviction_reason, eviction_victims, free_cpus, free_memory, pick_cores
from mlway.runtime.budget import Budget
from mlway.runtime.bundle import Bundle
from mlway.runtime.errors import (
    BudgetError,
    ModelUnavailableError,
    OverloadedError,
)
from mlway.runtime.limits import available_cpus
from mlway.runtime.manifest import Variant
from mlway.runtime.messages import Ready
from mlway.runtime.placement import VariantChoice, choose_variant, explain, placement_order
from mlway.runtime.recovery import after_exit, expire, flush
from mlway.runtime.settings import HostSettings
from mlway.runtime.slot import Arrays, Queued, Slot, unknown_model
from mlway.runtime.status import HostStatus, ModelState, ModelStatus
from mlway.runtime.tensors import TensorSpec, check_inputs
from mlway.runtime.variants import start_worker
from mlway.runtime.worker import ExitCause, Worker

log = logging.getLogger(__name__)


class ModelHost:
    """Serve many model bundles on one device within a memory and CPU budget.

    Thread-safe. ``submit`` returns a ``concurrent.futures.Future``; ``infer`` blocks;
    ``infer_async`` awaits. Use as a context manager or call ``stop``.
    """

    def __init__(self, settings: HostSettings | None = None) -> None:
        self.settings = settings or HostSettings()
        self._lock = threading.RLock()  # budget bookkeeping and the slot table; taken before a slot's lock
        self._admin = threading.RLock()  # one load, swap, eviction or recovery at a time
        self._slots: dict[str, Slot] = {}
        self._budget: Budget | None = None
        self._supervisor: ThreadPoolExecutor | None = None
        self._closing = threading.Event()
        self._reaper: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------

    def start(self, bundles: Sequence[Bundle], budget: Budget) -> HostStatus:
        """Admit and load ``bundles`` into ``budget``; returns the status (which variant serves, why)."""
        if self._budget is not None:
            raise MlwayError("this host is already started; use add() or swap() to change its models")
        names = [b.name for b in bundles]
        if len(set(names)) != len(names):
            raise ConfigError(f"two bundles share a name: {names}")
        missing = sorted(set(budget.cpu_ids) - set(available_cpus()))
        if missing:
            raise ConfigError(
                f"budget cores {missing} are not available to this process",
                hint=f"use cores among {available_cpus()}",
            )
        self._budget = budget
        self._supervisor = ThreadPoolExecutor(1, thread_name_prefix="mlway-supervisor")
        self._reaper = threading.Thread(target=self._reap_backlogs, name="mlway-reaper", daemon=True)
        self._reaper.start()
        with self._admin:
            for bundle in placement_order(bundles):
                self._slots[bundle.name] = Slot(bundle=bundle)
            for bundle in placement_order(bundles):
                self._load(self._slots[bundle.name], bundle, evict=False)
        return self.status()

    def stop(self) -> None:
        """Stop every worker (in reverse placement order), failing queued requests."""
        if self._budget is None or self._closing.is_set():
            return
        self._closing.set()
        with self._admin:
            for slot in reversed(list(self._slots.values())):
                self._unload(slot, state="stopped", reason="the host stopped", drain=1.0)
        if self._supervisor is not None:
            self._supervisor.shutdown(wait=True)
        if self._reaper is not None:
            self._reaper.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # requests ----------------------------------------------------------------------------------

    def submit(self, model: str, inputs: Mapping[str, object], *, timeout: float | None = None) -> Future[Arrays]:
        """Send one batch to ``model``; the future resolves to its outputs by name.

        Raises at once for client mistakes and overload (``NotFoundError``, ``InputError``,
        ``OverloadedError``, ``ModelUnavailableError``); the future fails with
        ``DeadlineExceededError``, ``WorkerCrashedError`` or ``QuotaExceededError`` later.
        ``timeout`` (seconds) defaults to ``settings.request_timeout_s``.
        """
        slot = self._slot(model)
        deadline = time.monotonic() + (timeout if timeout is not None else self.settings.request_timeout_s)
        with slot.lock:
            slot.touch()
            quota = slot.bundle.manifest.quota
            if slot.in_flight() >= quota.max_concurrency + quota.max_queue:
                raise OverloadedError(
                    f"model {model!r} already holds {slot.in_flight()} requests",
                    hint=f"retry later, or raise max_queue ({quota.max_queue}) or max_concurrency in its quota",
                )
            specs = slot.input_specs()
            arrays = check_inputs(inputs, specs, model=model)
            worker = slot.worker
            if worker is not None and worker.alive:
                future = worker.submit(arrays, deadline)
            elif slot.state in {"ready", "recovering", "loading"}:
                future = Future()
                slot.backlog.append(Queued(arrays, deadline, future))
            else:
                raise ModelUnavailableError(f"model {model!r} is {slot.state.replace('_', ' ')}: {slot.reason}")
        future.add_done_callback(slot.count)
        return future

    def infer(self, model: str, inputs: Mapping[str, object], *, timeout: float | None = None) -> Arrays:
        """Blocking form of :meth:`submit`."""
        return self.submit(model, inputs, timeout=timeout).result()

    async def infer_async(self, model: str, inputs: Mapping[str, object], *, timeout: float | None = None) -> Arrays:  # noqa: ASYNC109
        """Awaitable form of :meth:`submit`; ``timeout`` is the request's deadline, enforced by the host."""
        return await asyncio.wrap_future(self.submit(model, inputs, timeout=timeout))

    def input_specs(self, model: str) -> list[TensorSpec]:
        """Inputs as the serving variant expects them (a reduced-size variant has smaller images)."""
        slot = self._slot(model)
        with slot.lock:
            return slot.input_specs()

    # status ------------------------------------------------------------------------------------

    def status(self) -> HostStatus:
        """Budget, what is free, and each model's state, variant, reason and counters."""
        budget = self._require_budget()
        with self._lock:
            slots = list(self._slots.values())
            free_memory, free_cpus = self._free_memory(), self._free_cpus()
        models = []
        for slot in slots:
            with slot.lock:
                models.append(slot.status())
        return HostStatus(
            budget_memory=budget.memory,
            budget_cpu_ids=list(budget.cpu_ids),
            free_memory=free_memory,
            free_cpu_ids=free_cpus,
            models=models,
        )

    def model_status(self, model: str) -> ModelStatus:
        slot = self._slot(model)
        with slot.lock:
            return slot.status()

    # changes -----------------------------------------------------------------------------------

    def swap(self, model: str, *, bundle: Bundle | None = None, variant: str | None = None) -> ModelStatus:
        """Load a new version or variant (or reload), warm it, switch to it, then drain the old worker.

        ``bundle``: a new version of the model; ``variant``: only that variant; neither: reload the
        first variant that fits, forgetting earlier refusals (promotion back after a fallback).
        The old worker keeps serving until the new one is warm; if the new one cannot load, the old
        one stays and this raises ``BudgetError`` or ``ModelUnavailableError`` with the reason.
        """
        slot = self._slot(model)
        target = bundle or slot.bundle
        if target.name != model:
            raise ConfigError(f"cannot swap {model!r} to a bundle named {target.name!r}")
        if variant is not None and variant not in [v.name for v in target.manifest.variants]:
            names = [v.name for v in target.manifest.variants]
            raise NotFoundError(f"model {model!r} has no variant {variant!r}", hint=f"variants: {names}")
        with self._admin:
            before = slot.variant.name if slot.variant and slot.worker else None
            ok = self._load(slot, target, only=variant, evict=True, fresh=True)
            if not ok:
                last = slot.events[-1].message if slot.events else slot.reason
                error = BudgetError if "budget" in last or "core" in last else ModelUnavailableError
                raise error(f"swap of {model!r} failed: {last}")
            slot.event(f"swapped from {before or 'nothing'} to {slot.variant.name if slot.variant else '?'}")
        return self.model_status(model)

    def add(self, bundle: Bundle) -> ModelStatus:
        """Admit one more model, evicting least recently used lower-priority unpinned models if needed."""
        self._require_budget()
        with self._admin:
            if bundle.name in self._slots:
                raise ConfigError(f"model {bundle.name!r} is already hosted; use swap() to update it")
            slot = Slot(bundle=bundle)
            with self._lock:
                self._slots[bundle.name] = slot
            self._load(slot, bundle, evict=True)
        return self.model_status(bundle.name)

    def remove(self, model: str) -> None:
        """Stop a model's worker and forget it; freed room goes to waiting or evicted models."""
        slot = self._slot(model)
        with self._admin:
            self._unload(slot, state="stopped", reason="removed", drain=self.settings.drain_timeout_s)
            with self._lock:
                self._slots.pop(model, None)
            self._readmit()

    # internals: loading and the swap primitive ---------------------------------------------------

    def _load(
        self,
        slot: Slot,
        bundle: Bundle,
        *,
        only: str | None = None,
        evict: bool,
        fresh: bool = False,
        prefix: str = "",
    ) -> bool:
        """The swap primitive. Load the first fitting variant of ``bundle`` for ``slot``, warm it, switch
        requests to it and stop the slot's previous worker (if any). Caller holds ``_admin``."""
        budget = self._require_budget()
        manifest = bundle.manifest
        threads = manifest.quota.cpu_threads
        skip = {} if fresh or bundle is not slot.bundle else dict(slot.refused)
        if only is not None:
            skip = {v.name: f"{v.name} not asked for" for v in manifest.variants if v.name != only}
        old = slot.worker
        with slot.lock:
            if slot.worker is None and slot.state != "recovering":
                slot.state = "loading"
        while True:
            with self._lock:
                cores = pick_cores(self._slots.values(), budget, slot, threads, old)
                free = self._free_memory()
            chosen, choices = choose_variant(
                bundle, free_memory=free, budget=budget, skip=skip, verify=self.settings.verify_sha256
            )
            if cores is None or chosen is None:
                wanted = next((c for c in choices if c.verdict in {"chosen", "over_budget"}), None)
                if evict and wanted is not None and self._make_room(slot, wanted.memory_bytes, threads, old):
                    continue
                reason = explain(None, choices, prefix)
                if cores is None:
                    reason = (
                        f"needs {threads} free core(s) for cpu_threads={threads}; "
                        f"free: {self._free_cpus()} of {budget.cpu_ids}; cores are never shared"
                    )
                self._fail_load(slot, old, choices, reason, skip)
                return False
            variant = manifest.variants[chosen]
            need = choices[chosen].memory_bytes
            started = self._start_worker(slot, bundle, variant, need, cores)
            if isinstance(started, str):
                skip[variant.name] = started
                continue
            worker, ready = started
            reason = f"{variant.name}: asked for by a swap" if only else explain(chosen, choices, prefix)
            with self._lock, slot.lock:
                slot.bundle, slot.variant, slot.worker, slot.state = bundle, variant, worker, "ready"
                slot.memory_reserved = need if variant.memory_bytes else max(need, ready.rss_bytes)
                slot.cpu_ids, slot.incoming_memory, slot.incoming_cpus = cores, 0, ()
                slot.reason = reason
                slot.refused = {k: v for k, v in skip.items() if only is None}
                backlog, slot.backlog = slot.backlog, []
            slot.event(f"serving {variant.name} (pid {ready.pid}, RSS {format_bytes(ready.rss_bytes)}): {reason}")
            flush(backlog, worker)
            if old is not None and old is not worker:
                old.stop(self.settings.drain_timeout_s)
            return True

    def _start_worker(
        self, slot: Slot, bundle: Bundle, variant: Variant, need: int, cores: tuple[int, ...]
    ) -> tuple[Worker, Ready] | str:
        """Start and warm a worker with ``need`` bytes and ``cores`` held for it; the reason if it fails."""
        with self._lock:
            slot.incoming_memory, slot.incoming_cpus = need, cores
        started = start_worker(bundle, variant, cores, self.settings, self._on_exit)
        if isinstance(started, str):
            with self._lock:
                slot.incoming_memory, slot.incoming_cpus = 0, ()
            slot.event(f"{variant.name} could not serve: {started}")
        return started

    def _fail_load(
        self, slot: Slot, old: Worker | None, choices: list[VariantChoice], reason: str, skip: dict[str, str]
    ) -> None:
        with self._lock, slot.lock:
            if old is not None and old.alive:
                slot.event(
                    f"not swapped, {slot.variant.name if slot.variant else 'the old worker'} keeps serving: {reason}"
                )
                return
            budget_limited = any(c.verdict in {"over_budget", "chosen", "no_cores"} for c in choices)
            slot.state = "not_loaded" if budget_limited else "failed"
            slot.reason, slot.refused = reason, dict(skip)
            backlog, slot.backlog = slot.backlog, []
        slot.event(reason)
        slot.fail_queued(backlog, f"is unavailable: {reason}")

    # internals: budget and eviction ------------------------------------------------------------

    def _make_room(self, slot: Slot, memory: int, threads: int, old: Worker | None) -> bool:
        """Evict least recently used, lower-priority, unpinned models until ``memory`` and cores are free."""
        with self._lock:
            victims = eviction_victims(
                list(self._slots.values()), self._require_budget(), slot, memory=memory, threads=threads, old=old
            )
        for victim in victims or []:
            self._unload(
                victim, state="evicted", reason=eviction_reason(slot, victim), drain=self.settings.drain_timeout_s
            )
        return victims is not None

    def _free_memory(self) -> int:
        return free_memory(self._slots.values(), self._require_budget())

    def _free_cpus(self) -> list[int]:
        return free_cpus(self._slots.values(), self._require_budget())

    def _unload(self, slot: Slot, *, state: ModelState, reason: str, drain: float) -> None:
        with self._lock, slot.lock:
            worker, slot.worker = slot.worker, None
            slot.state, slot.reason = state, reason
            slot.memory_reserved, slot.cpu_ids = 0, ()
            backlog, slot.backlog = slot.backlog, []
        slot.event(reason)
        slot.fail_queued(backlog, f"is {state}: {reason}")
        if worker is not None:
            worker.stop(drain)

    def _readmit(self) -> None:
        """Give freed room to models that did not fit or were evicted, by placement order, without evicting."""
        with self._lock:
            waiting = [s for s in self._slots.values() if s.state in {"not_loaded", "evicted"}]
        for slot in sorted(waiting, key=lambda s: (not s.bundle.manifest.pinned, -s.priority, s.name)):
            self._load(slot, slot.bundle, evict=False)

    # internals: recovery -----------------------------------------------------------------------

    def _on_exit(self, worker: Worker, cause: ExitCause) -> None:
        """Called on a worker's monitor thread when it ends unasked: schedule its replacement."""
        slot = next((s for s in list(self._slots.values()) if s.worker is worker), None)
        if slot is None or self._closing.is_set():
            return
        with self._lock, slot.lock:
            if slot.worker is not worker:
                return
            slot.worker, slot.state = None, "recovering"
            slot.memory_reserved, slot.cpu_ids = 0, ()
        slot.event(cause.message)
        supervisor = self._supervisor
        if supervisor is not None:
            try:
                supervisor.submit(self._recover, slot, worker, cause)
            except RuntimeError:  # shutting down
                return

    def _recover(self, slot: Slot, worker: Worker, cause: ExitCause) -> None:
        with self._admin:
            if self._closing.is_set() or slot.state != "recovering" or self._slots.get(slot.name) is not slot:
                return
            prefix = after_exit(slot, worker.spec.variant, cause, self.settings)
            ok = self._load(slot, slot.bundle, evict=True, prefix=prefix)
            if not ok:
                self._readmit()

    def _reap_backlogs(self) -> None:
        """Fail requests queued during a replacement once their deadline passes (never a hang)."""
        while not self._closing.wait(0.02):
            now = time.monotonic()
            for slot in list(self._slots.values()):
                expire(slot, now)

    # internals: small helpers ------------------------------------------------------------------

    def _slot(self, model: str) -> Slot:
        slot = self._slots.get(model)
        if slot is None:
            raise unknown_model(model, list(self._slots))
        return slot

    def _require_budget(self) -> Budget:
        if self._budget is None:
            raise MlwayError("the host is not started; call start(bundles, budget) first")
        return self._budget
