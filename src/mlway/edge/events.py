"""Per-frame scores -> one ``EventSmoother`` per camera -> event records in the outbox, urgent ones alerted first.

    stage = EventStage(labels, smoothing, urgent={"unloading_failure"}, sink=outbox, alerts=alerter, ...)
    stage.push(frame, probs)   # on the inference thread: smoothing, alerts (queued at once), outbox writes
    stage.close()              # end of run: ends every open event

Event ids are ``<camera>/<label>/<12 hex>``: the same for an event's start, updates and end, and unique
over the device's life (a restarted agent never reuses one). Wall times of an event come from the
frame's own clock: ``wall = frame.wall - frame.time_s + t`` for a stream time ``t``.

An urgent label's ``start`` is handed to the alerts before the record is written, so a slow or full
disk never delays the local action; an outbox that refuses an event (disk full) is reported as a
fault and the alert has fired anyway.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from mlway.core.errors import MlwayError
from mlway.core.smoothing import EventSmoother, EventUpdate, SmoothingConfig
from mlway.edge.sources.base import Frame

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where event records go (the outbox's ``add_event``)."""

    def add_event(self, **fields: Any) -> Any: ...


class AlertTrigger(Protocol):
    def fire(self, event: dict[str, Any], frame_mono: float) -> None: ...


def new_event_id(source: str, label: str) -> str:
    return f"{source}/{label}/{uuid.uuid4().hex[:12]}"[-128:]


def _ids_for(camera: str) -> Callable[[str], str]:
    return lambda label: new_event_id(camera, label)


@dataclass
class EventCounts:
    started: int = 0
    updated: int = 0
    ended: int = 0
    urgent: int = 0
    refused: int = 0


class EventStage:
    """Smoothing and event records for every camera; thread-safe (per-camera workers share it)."""

    def __init__(
        self,
        labels: Iterable[str],
        smoothing: SmoothingConfig,
        *,
        cameras: Iterable[str],
        urgent: Iterable[str],
        sink: EventSink,
        alerts: AlertTrigger,
        model_version: str,
        on_fault: Callable[[str], None] = log.warning,
    ) -> None:
        self.labels = list(labels)
        self.urgent = set(urgent)
        self._sink = sink
        self._alerts = alerts
        self._model_version = model_version
        self._on_fault = on_fault
        self._smoothers = {
            cam: EventSmoother(self.labels, smoothing, source=cam, id_factory=_ids_for(cam)) for cam in cameras
        }
        self._anchor: dict[str, float] = {}
        self._locks = {cam: threading.Lock() for cam in self._smoothers}
        self._count_lock = threading.Lock()
        self.counts = EventCounts()
        self.top_labels: dict[str, Counter[str]] = {cam: Counter() for cam in self._smoothers}
        self.open_events: dict[str, EventUpdate] = {}

    def push(self, frame: Frame, probs: list[float]) -> list[EventUpdate]:
        """Smooth one frame's probabilities; alert and store the event changes it causes."""
        with self._locks[frame.camera]:
            smoother = self._smoothers[frame.camera]
            self._anchor[frame.camera] = frame.wall - frame.time_s
            updates = smoother.push(frame.time_s, probs)
            if smoother.last is not None:
                self.top_labels[frame.camera][smoother.last.label] += 1
            for update in updates:
                self._emit(update, frame.mono)
        return updates

    def close(self) -> list[EventUpdate]:
        """End every open event (the agent is stopping or the cameras ended)."""
        out: list[EventUpdate] = []
        for cam, smoother in self._smoothers.items():
            with self._locks[cam]:
                for update in smoother.close():
                    self._emit(update, None)
                    out.append(update)
        return out

    def close_camera(self, camera: str) -> list[EventUpdate]:
        """End ``camera``'s open events (its source ended)."""
        with self._locks[camera]:
            updates = self._smoothers[camera].close()
            for update in updates:
                self._emit(update, None)
        return updates

    def take_top_labels(self) -> dict[str, dict[str, int]]:
        out = {}
        for cam, counter in self.top_labels.items():
            with self._locks[cam]:
                out[cam] = dict(counter)
                counter.clear()
        return out

    def _wall(self, camera: str, time_s: float) -> float:
        return max(0.0, self._anchor.get(camera, 0.0) + time_s)

    def _emit(self, update: EventUpdate, frame_mono: float | None) -> None:
        urgent = update.label in self.urgent
        fields: dict[str, Any] = {
            "event_id": update.event_id,
            "kind": update.kind,
            "label": update.label,
            "source": update.source,
            "start_wall": self._wall(update.source, update.start_s),
            "time_wall": self._wall(update.source, update.time_s),
            "end_wall": None if update.end_s is None else self._wall(update.source, update.end_s),
            "start_s": max(0.0, update.start_s),
            "end_s": None if update.end_s is None else max(0.0, update.end_s),
            "confidence": min(1.0, max(0.0, update.confidence)),
            "peak": min(1.0, max(0.0, update.peak)),
            "frames": update.frames,
            "unsure": update.unsure,
            "urgent": urgent,
            "model_version": self._model_version,
        }
        if urgent and update.kind == "start" and frame_mono is not None:
            self._alerts.fire(fields, frame_mono)
        with self._count_lock:
            if update.kind == "start":
                self.counts.started += 1
                self.counts.urgent += urgent
                self.open_events[update.event_id] = update
            elif update.kind == "update":
                self.counts.updated += 1
                self.open_events[update.event_id] = update
            else:
                self.counts.ended += 1
                self.open_events.pop(update.event_id, None)
        try:
            self._sink.add_event(**fields)
        except MlwayError as exc:
            with self._count_lock:
                self.counts.refused += 1
            self._on_fault(f"event {update.event_id} {update.kind} not stored: {exc.message}")
