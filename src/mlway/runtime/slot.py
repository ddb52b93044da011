"""One model inside a host: its bundle, serving worker, reservation, queue and history."""

from __future__ import annotations

import difflib
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from mlway.core.errors import NotFoundError
from mlway.runtime.bundle import Bundle
from mlway.runtime.errors import ModelUnavailableError
from mlway.runtime.manifest import Variant
from mlway.runtime.status import ModelEvent, ModelState, ModelStatus
from mlway.runtime.tensors import TensorSpec
from mlway.runtime.worker import Worker

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


@dataclass(slots=True)
class Queued:
    """A request held while the model's worker is being replaced."""

    inputs: Arrays
    deadline: float
    future: Future[Arrays]


@dataclass
class Slot:
    bundle: Bundle
    state: ModelState = "not_loaded"
    worker: Worker | None = None
    variant: Variant | None = None
    reason: str = "not loaded yet"
    memory_reserved: int = 0
    cpu_ids: tuple[int, ...] = ()
    incoming_memory: int = 0
    incoming_cpus: tuple[int, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    restart_times: deque[float] = field(default_factory=deque)
    restarts: int = 0
    backlog: list[Queued] = field(default_factory=list)
    served: int = 0
    failed: int = 0
    last_used: float = 0.0
    last_used_at: datetime | None = None
    events: deque[ModelEvent] = field(default_factory=lambda: deque(maxlen=50))
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def priority(self) -> int:
        return self.bundle.manifest.priority

    def event(self, message: str) -> None:
        self.events.append(ModelEvent(at=datetime.now(UTC), message=message))
        log.info("%s: %s", self.name, message)

    def touch(self) -> None:
        self.last_used = time.monotonic()
        self.last_used_at = datetime.now(UTC)

    def count(self, future: Future[Arrays]) -> None:
        """Done-callback of every request future: the served and failed counters."""
        with self.lock:
            if future.exception() is None:
                self.served += 1
            else:
                self.failed += 1

    def input_specs(self) -> list[TensorSpec]:
        """Inputs as the serving variant expects them (its input_shapes override the model's)."""
        manifest = self.bundle.manifest
        return manifest.input_specs(self.variant) if self.variant else list(manifest.inputs)

    def fail_queued(self, backlog: list[Queued], message: str) -> None:
        """Fail requests taken from the backlog (the model cannot serve them)."""
        for queued in backlog:
            if not queued.future.done():
                queued.future.set_exception(ModelUnavailableError(f"model {self.name!r} {message}"))

    def in_flight(self) -> int:
        return (self.worker.in_flight if self.worker else 0) + len(self.backlog)

    def status(self) -> ModelStatus:
        manifest = self.bundle.manifest
        worker = self.worker
        variant = self.variant if worker is not None else None
        return ModelStatus(
            name=manifest.name,
            version=manifest.version,
            task=manifest.task,
            state=self.state,
            variant=variant.name if variant else None,
            backend=variant.backend if variant else None,
            reason=self.reason,
            priority=manifest.priority,
            pinned=manifest.pinned,
            pid=worker.pid if worker else None,
            cpu_ids=list(self.cpu_ids),
            memory_limit=manifest.quota.memory,
            memory_reserved=self.memory_reserved,
            rss_bytes=worker.rss if worker else 0,
            peak_rss_bytes=worker.peak_rss if worker else 0,
            in_flight=self.in_flight(),
            served=self.served,
            failed=self.failed,
            restarts=self.restarts,
            last_used=self.last_used_at,
            refused=dict(self.refused),
            inputs=manifest.input_specs(variant) if variant else list(manifest.inputs),
            outputs=list(manifest.outputs),
            labels=list(manifest.labels) if manifest.labels else None,
            events=list(self.events),
        )


def unknown_model(model: str, names: list[str]) -> NotFoundError:
    close = difflib.get_close_matches(model, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"models: {', '.join(sorted(names))}"
    return NotFoundError(f"no model named {model!r}", hint=hint)
