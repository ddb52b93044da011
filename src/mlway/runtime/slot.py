"""One model inside a host: its bundle, serving worker, reservation, queue and history."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from mlway.runtime.bundle import Bundle
from mlway.runtime.manifest import Variant
from mlway.runtime.status import ModelEvent, ModelState, ModelStatus
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
