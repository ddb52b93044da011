"""``EdgeAgent``: the composition root of ``mlway edge run``. Starts its parts in order, stops them in reverse.

    agent = EdgeAgent(load_config("edge.yaml"))
    agent.start()                 # preflight, model, outbox, alerts, events, scheduler, inference, sources, uplink
    agent.run(stop_event)         # until stopped, or every camera ended and its frames are inferred
    agent.stop(deadline_s=10)     # sources off, open events ended, summary, alerts flushed, uplink stopped

Start order: preflight (every config problem at once, nothing started), the model (loaded and warm),
the outbox (``quick_check``, a corrupt file is quarantined and reported; events a killed run left open
are ended, ``interrupted``), the alerts, the event stage and its thread (smoothing, alerts and records of
inferred frames, beside the model), the scheduler and its inference thread(s), the sources, the uploader
(if ``hub`` is set) and the housekeeping thread (status.json every ``status_every_s``, a summary record
every ``summary_every_s``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from mlway.core.clock import Stamp
from mlway.core.errors import MlwayError
from mlway.core.wire import CameraSummary, Clock, Heartbeat
from mlway.edge.alerts import Alerter
from mlway.edge.check import preflight
from mlway.edge.config import CameraConfig, EdgeConfig
from mlway.edge.events import EventStage
from mlway.edge.inference import Model, describe
from mlway.edge.outbox import Outbox
from mlway.edge.scheduler import CameraCounters, Scheduler
from mlway.edge.sources import Frame, Source, SourceRunner, open_source
from mlway.edge.status import (
    AgentState,
    AgentStatus,
    AlertStatus,
    CameraStatus,
    EventStatus,
    ModelInfo,
    StoreStatus,
    UplinkInfo,
    write_status,
)
from mlway.edge.uploader import Uploader

log = logging.getLogger(__name__)
MAX_FAULTS = 50
EVENT_QUEUE_BATCHES = 64
"""Inferred batches waiting for the event thread; a full queue holds the inference slot back."""


@dataclass
class _Period:
    """Counters at the start of the current summary period."""

    mono: float
    counters: dict[str, CameraCounters]
    restarts: dict[str, int]


class EdgeAgent:
    """See the module docstring. Thread-safe ``stop``; ``status()`` at any time after ``start``."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        memory: int | None = None,
        opener: Callable[[CameraConfig, tuple[int, int] | None], Source] = open_source,
    ) -> None:
        """``memory``: bytes the model may use (default: available memory); ``opener``: how a camera's source
        is opened (benchmarks feed decoded frames from memory through it)."""
        self.config = config
        self._memory = memory
        self._opener = opener
        self.state: AgentState = "starting"
        self.started_wall = time.time()
        self._started_mono = time.monotonic()
        self._faults: deque[str] = deque(maxlen=MAX_FAULTS)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.model: Model | None = None
        self.outbox: Outbox | None = None
        self.alerter = Alerter(config.alerts)
        self.stage: EventStage | None = None
        self.scheduler: Scheduler | None = None
        self.runners: dict[str, SourceRunner] = {}
        self.uploader: Uploader | None = None
        self._workers: list[threading.Thread] = []
        self._inferred: queue.Queue[tuple[list[Frame], list[list[float]]] | None] = queue.Queue(EVENT_QUEUE_BATCHES)
        self._event_thread: threading.Thread | None = None
        self._housekeeper: threading.Thread | None = None
        self._closed_cameras: set[str] = set()
        self._fps_marks: deque[tuple[float, dict[str, int]]] = deque(maxlen=64)
        self._period: _Period | None = None
        self._policy: str = config.scheduler.policy
        self.smoothing_from = ""
        self._last_store: StoreStatus | None = None
        self._outbox_closed = False

    # lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start every part in order; any failure before the sources start leaves nothing running."""
        config = self.config
        plan = preflight(config, memory=self._memory)
        self._policy = plan.policy
        self.smoothing_from = plan.smoothing_from
        self._write_status()
        self.model = Model(plan.bundle, plan.pick, config.model.isolation)
        try:
            self.outbox = Outbox.open(config.outbox_path, config.device_id, max_bytes=config.store.max_bytes)
        except BaseException:
            self.model.close()
            raise
        for fault in self.outbox.stats().faults:
            self._fault(f"outbox: {fault}")
        self._end_interrupted(self.outbox)
        self.alerter.start()
        cameras = [c.name for c in config.cameras]
        self.stage = EventStage(self.model.labels, plan.smoothing, cameras=cameras, urgent=config.urgent,
                                sink=_Sink(self), alerts=self.alerter, model_version=self.model.model_version,
                                on_fault=self._fault)  # fmt: skip
        self.scheduler = Scheduler([(c.name, c.fps) for c in config.cameras], policy=self._policy,
                                   queue=config.scheduler.queue)  # fmt: skip
        self._event_thread = threading.Thread(target=self._event_loop, name="mlway-events", daemon=True)
        self._event_thread.start()
        slots = cameras if self._policy == "per-camera" else [None]
        for camera in slots:
            thread = threading.Thread(target=self._infer_loop, args=(camera,), name=f"mlway-infer-{camera or 'slot'}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self._workers.append(thread)
        size = self.model.decode_size if config.model.decode_resize else None

        def opener(camera: CameraConfig) -> Source:
            return self._opener(camera, size)

        for camera_config in config.cameras:
            runner = SourceRunner(camera_config, self.scheduler.offer, opener=opener, on_fault=self._fault,
                                  prepare=self.model.preprocess)  # fmt: skip
            self.runners[camera_config.name] = runner
            runner.start()
        if config.hub is not None:
            self.uploader = Uploader(self.outbox, config.hub, heartbeat=self.heartbeat)
            self.uploader.start()
        self._period = _Period(time.monotonic(), self.scheduler.counters(), self._restarts())
        self.state = "running"
        self._housekeeper = threading.Thread(target=self._housekeeping, name="mlway-housekeeping", daemon=True)
        self._housekeeper.start()
        log.info("edge agent %s running: %s, %d camera(s), policy %s", config.device_id, self.model.reason,
                 len(cameras), self._policy)  # fmt: skip
        return self

    def _end_interrupted(self, outbox: Outbox) -> None:
        """End the events a killed run left open (before any new event, so ends precede restarts)."""
        try:
            ended = outbox.end_open_events()
        except MlwayError as exc:
            self._fault(f"events left open by the previous run not ended yet: {exc.message}")
            return
        if ended:
            ids = ", ".join(e.event_id for e in ended[:3]) + (", ..." if len(ended) > 3 else "")
            self._fault(f"the previous run stopped without ending {len(ended)} event(s) (power cut or kill); "
                        f"ended them at their last recorded frame, marked interrupted: {ids}")  # fmt: skip

    def run(self, stop: threading.Event | None = None) -> None:
        """Block until ``stop`` is set, ``request_stop`` is called, or every camera ended and was inferred."""
        while not self._done.wait(0.1):
            if stop is not None and stop.is_set():
                break
            if self._stop.is_set():
                break

    def request_stop(self) -> None:
        """Ask ``run`` to return (safe from a signal handler)."""
        self._stop.set()

    def stop(self, deadline_s: float = 10.0) -> None:
        """Stop in reverse order within ``deadline_s``: sources, inference, events, summary, alerts, uplink, store."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        end = time.monotonic() + deadline_s
        self.state = "stopping"
        self._stop.set()
        for runner in self.runners.values():
            runner.stop()
        if self.scheduler is not None:
            self.scheduler.close()
        for thread in self._workers:
            thread.join(max(0.1, min(2.0, end - time.monotonic())))
        if self._event_thread is not None:  # the frames already inferred still make their events
            try:
                self._inferred.put(None, timeout=max(0.1, min(2.0, end - time.monotonic())))
            except queue.Full:
                log.warning("the event thread is behind at stop; frames still queued for it are left")
            self._event_thread.join(max(0.1, min(2.0, end - time.monotonic())))
        for runner in self.runners.values():  # a source blocked in a read is left behind (its thread is a daemon)
            runner.join(max(0.05, min(0.5, end - time.monotonic())))
        if self._housekeeper is not None:
            self._housekeeper.join(max(0.1, min(2.0, end - time.monotonic())))
        if self.stage is not None:
            self.stage.close()
        self._summary(final=True)
        self.alerter.stop(max(0.1, min(2.0, end - time.monotonic())))
        if self.uploader is not None:
            self.uploader.stop(max(0.5, end - time.monotonic() - 0.5))
        if self.model is not None:
            self.model.close()
        self.state = "stopped"
        self._write_status()
        if self.outbox is not None:
            self._outbox_closed = True
            self.outbox.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # the inference slot(s) -------------------------------------------------------------------------------

    def _infer_loop(self, camera: str | None) -> None:
        scheduler, model, stage = self.scheduler, self.model, self.stage
        if scheduler is None or model is None or stage is None:
            raise MlwayError("the agent is not started")
        limit = min(self.config.scheduler.max_batch, model.max_batch)
        while True:
            if camera is None:
                frames = scheduler.next_batch(limit, 0.2)
            else:
                frames = scheduler.next_batch_for(camera, limit, 0.2)
            if not frames:
                if self._stop.is_set() or (scheduler.exhausted if camera is None else self._camera_done(camera)):
                    return
                continue
            try:
                probs = model.scores_frames(frames)
            except MlwayError as exc:
                self._fault(f"camera {frames[0].camera}: inference failed: {exc.message}")
            except Exception as exc:  # the slot thread's boundary: report and keep serving, never hang the agent
                log.exception("inference slot error")
                self._fault(f"camera {frames[0].camera}: frames lost to an internal error: {type(exc).__name__}: {exc}")
            else:
                self._inferred.put((frames, probs))  # released by the event thread once their events are out
                continue
            scheduler.release(frames)

    def _event_loop(self) -> None:
        """Smoothing, alerts and event records of inferred frames, in order, beside the inference slot(s): the
        model's core never waits for Python bookkeeping or a disk write."""
        scheduler, stage = self.scheduler, self.stage
        if scheduler is None or stage is None:
            raise MlwayError("the agent is not started")
        while (item := self._inferred.get()) is not None:
            frames, probs = item
            try:
                for frame, p in zip(frames, probs, strict=True):
                    stage.push(frame, p)
            except Exception as exc:  # the thread's boundary: report and keep going, never hang the agent
                log.exception("event thread error")
                self._fault(f"camera {frames[0].camera}: events of {len(frames)} frame(s) lost: "
                            f"{type(exc).__name__}: {exc}")  # fmt: skip
            finally:
                scheduler.release(frames)
            if self._inferred.empty() and self._all_cameras_done():  # a finite run ends now, not at the next tick
                self._done.set()

    def _all_cameras_done(self) -> bool:
        return bool(self.runners) and all(self._camera_done(c) for c in self.runners)

    def _camera_done(self, camera: str) -> bool:
        runner = self.runners.get(camera)
        pending = self.scheduler.pending(camera) if self.scheduler is not None else 0
        return runner is not None and runner.finished and pending == 0

    # housekeeping: ended cameras, status, summaries ----------------------------------------------------------

    def _housekeeping(self) -> None:
        next_status = time.monotonic()
        next_summary = time.monotonic() + self.config.summary_every_s
        while not self._stop.is_set():
            now = time.monotonic()
            self._close_ended_cameras()
            if now >= next_status:
                self._write_status()
                next_status = now + self.config.status_every_s
            if now >= next_summary:
                self._summary()
                next_summary = now + self.config.summary_every_s
            if self._all_cameras_done():
                self._done.set()
            self._stop.wait(0.05)

    def _close_ended_cameras(self) -> None:
        for name, runner in self.runners.items():
            if name in self._closed_cameras or not runner.finished or self.scheduler is None:
                continue
            self.scheduler.finish(name)
            if self._camera_done(name) and self.stage is not None:
                self._closed_cameras.add(name)
                self.stage.close_camera(name)

    def _restarts(self) -> dict[str, int]:
        return {name: runner.restarts for name, runner in self.runners.items()}

    def _summary(self, *, final: bool = False) -> None:
        if self.outbox is None or self.scheduler is None or self._period is None or self.stage is None:
            return
        now = time.monotonic()
        period = now - self._period.mono
        if period <= 0.05 and final:
            return
        counters, restarts = self.scheduler.counters(), self._restarts()
        before = self._period
        tops = self.stage.take_top_labels()
        cameras = {}
        for name, c in counters.items():
            b = before.counters.get(name, CameraCounters())
            inferred = c.taken - b.taken
            cameras[name] = CameraSummary(
                frames_in=c.frames_in - b.frames_in,
                frames_inferred=inferred,
                frames_dropped=c.frames_dropped - b.frames_dropped,
                fps=round(inferred / period, 3) if period > 0 else 0.0,
                top_labels=tops.get(name, {}),
                restarts=restarts.get(name, 0) - before.restarts.get(name, 0),
            )
        self._period = _Period(now, counters, restarts)
        try:
            self.outbox.add_summary(period_s=min(max(period, 0.001), 86400), cameras=cameras,
                                    model_version=self.model.model_version if self.model else "")  # fmt: skip
        except MlwayError as exc:
            self._fault(f"summary not stored: {exc.message}")

    # faults, status, heartbeat -------------------------------------------------------------------------------

    def _fault(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._faults.append(f"{stamp} {message}")
        log.warning("%s", message)

    def _fps(self, counters: dict[str, CameraCounters]) -> dict[str, float]:
        now = time.monotonic()
        self._fps_marks.append((now, {n: c.taken for n, c in counters.items()}))
        while len(self._fps_marks) > 2 and now - self._fps_marks[0][0] > 5.0:
            self._fps_marks.popleft()
        then, old = self._fps_marks[0]
        span = now - then
        return {n: round((c.taken - old.get(n, 0)) / span, 2) if span > 0.2 else 0.0 for n, c in counters.items()}

    def status(self) -> AgentStatus:
        """What status.json holds right now."""
        counters = self.scheduler.counters() if self.scheduler else {}
        backlog = self.scheduler.backlog() if self.scheduler else {}
        fps = self._fps(counters) if counters else {}
        now = time.monotonic()
        cameras = {}
        for cam in self.config.cameras:
            runner = self.runners.get(cam.name)
            c = counters.get(cam.name, CameraCounters())
            cameras[cam.name] = CameraStatus(
                source=cam.source,
                state=runner.state if runner else "starting",
                fps=fps.get(cam.name, 0.0),
                target_fps=cam.fps,
                frames_in=c.frames_in,
                inferred=c.taken,
                skipped=c.skipped,
                dropped=c.dropped,
                queued=backlog.get(cam.name, 0),
                restarts=runner.restarts if runner else 0,
                last_frame_age_s=round(now - runner.last_frame_mono, 3) if runner and runner.last_frame_mono else None,
                last_error=runner.last_error if runner else None,
            )
        latencies = self.alerter.latencies()
        stage = self.stage
        return AgentStatus(
            device_id=self.config.device_id,
            pid=_pid(),
            state=self.state,
            started_wall=self.started_wall,
            updated_wall=time.time(),
            uptime_s=round(now - self._started_mono, 3),
            model=ModelInfo(**describe(self.model)) if self.model else None,
            scheduler=self._policy,
            smoothing=self.smoothing_from,
            cameras=cameras,
            events=EventStatus(
                started=stage.counts.started,
                ended=stage.counts.ended,
                open=len(stage.open_events),
                urgent=stage.counts.urgent,
                refused=stage.counts.refused,
            )
            if stage
            else EventStatus(),
            alerts=AlertStatus(
                sinks=self.alerter.sinks,
                fired=self.alerter.fired,
                delivered=self.alerter.delivered,
                failed=self.alerter.failed,
                last_latency_ms=round(latencies[-1] * 1000, 2) if latencies else None,
                max_latency_ms=round(max(latencies) * 1000, 2) if latencies else None,
            ),
            store=self._store_status(),
            uplink=self._uplink_status(),
            faults=list(self._faults),
        )

    def _store_status(self) -> StoreStatus | None:
        if self.outbox is None or self._outbox_closed:
            return self._last_store
        try:
            s = self.outbox.stats()
        except MlwayError as exc:
            self._fault(f"outbox stats: {exc.message}")
            return self._last_store
        self._last_store = StoreStatus(path=str(self.config.outbox_path), backlog_records=s.backlog_records,
                           backlog_oldest_age_s=round(s.backlog_oldest_age_s, 3), store_bytes=s.store_bytes,
                           disk_free_bytes=s.disk_free_bytes, dropped_summaries=s.dropped_summaries)  # fmt: skip
        return self._last_store

    def _uplink_status(self) -> UplinkInfo | None:
        if self.uploader is None or self.config.hub is None:
            return None
        s = self.uploader.status()
        return UplinkInfo(
            url=str(self.config.hub.url),
            connected=s.connected,
            last_sync_wall=s.last_ok_wall,
            last_error=s.last_error or None,
            sent_batches=s.sent_batches,
            acked_records=s.acked_records,
        )

    def _write_status(self) -> None:
        try:
            write_status(self.config.state_dir, self.status())
        except (OSError, MlwayError) as exc:
            log.warning("cannot write status.json: %s", exc)

    def heartbeat(self) -> Heartbeat:
        """The device's health for the hub (called by the uploader)."""
        stamp = Stamp.now()
        status = self.status()
        store = status.store
        cameras = {
            name: CameraSummary(
                frames_in=c.frames_in,
                frames_inferred=c.inferred,
                frames_dropped=c.skipped + c.dropped,
                fps=c.fps,
                restarts=c.restarts,
            )
            for name, c in status.cameras.items()
        }
        return Heartbeat(
            device_id=self.config.device_id,
            clock=Clock(
                wall=max(0.0, stamp.wall), mono=max(0.0, stamp.mono), boot_id=stamp.boot_id, trusted=stamp.trusted
            ),
            model_version=self.model.model_version if self.model else "",
            cameras=cameras,
            backlog_records=store.backlog_records if store else 0,
            backlog_oldest_age_s=store.backlog_oldest_age_s if store else 0.0,
            disk_free_bytes=store.disk_free_bytes if store else 0,
            store_bytes=store.store_bytes if store else 0,
            dropped_summaries=store.dropped_summaries if store else 0,
            faults=[f[:500] for f in status.faults][-100:],
        )


class _Sink:
    """The outbox, and a nudge to the uploader so a new event leaves at once when a link exists."""

    def __init__(self, agent: EdgeAgent) -> None:
        self._agent = agent

    def add_event(self, **fields: Any) -> Any:
        outbox = self._agent.outbox
        if outbox is None:
            raise MlwayError("the outbox is not open")
        record = outbox.add_event(**fields)
        if self._agent.uploader is not None:
            self._agent.uploader.notify()
        return record


def _pid() -> int:
    return os.getpid()
