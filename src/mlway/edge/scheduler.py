"""Cameras sharing a compute budget: per-camera queues that drop the oldest frame when behind, and a policy.

    scheduler = Scheduler([("header", 5.0), ("auger", 5.0)], policy="alternate", queue=1)
    scheduler.offer(frame)            # from each camera's source thread
    frame = scheduler.next(0.5)       # from the inference slot: whose turn it is, by the policy

Policies (one inference slot unless said):

* ``alternate``: strict turns, frame by frame (header, auger, header, ...), as the talk's board did
  with one NPU; the slot waits for the camera whose turn it is, up to one frame period of that
  camera (then the turn passes, so a dead camera does not stall the others).
* ``round-robin``: the next camera in turn order that has a frame waiting; never idles while any
  camera has one (work-conserving, but a fast camera gets more of the slot than a slow one).
* ``per-camera``: one slot per camera (``next_for``, ``next_batch_for``); for devices with a core or NPU
  core per camera.

Counters per camera: ``frames_in`` (offered), ``skipped`` (above the camera's target fps, by stream
time), ``dropped`` (the oldest frame dropped because the slot was behind), ``inferred``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlway.core.errors import ConfigError
from mlway.edge.sources.base import Frame

POLICIES = ("alternate", "round-robin", "per-camera")
READ_AHEAD = 8
"""Frames a reader that waits for room (``offer(wait=True)``: a file read flat out) may queue, whatever
``queue`` says; it is woken again when half of them are taken, not for every frame."""


@dataclass
class CameraCounters:
    """What happened to one camera's frames."""

    frames_in: int = 0
    skipped: int = 0
    dropped: int = 0
    taken: int = 0

    @property
    def frames_dropped(self) -> int:
        """Skipped for the fps target plus dropped when behind (the wire's ``frames_dropped``)."""
        return self.skipped + self.dropped


@dataclass
class _Queue:
    name: str
    fps: float | None
    depth: int
    ready: threading.Condition
    """Notified when a frame arrives or the camera ends: this camera's own slot waits here (per-camera)."""
    space: threading.Condition
    """Notified when a frame leaves: the camera's reader waits here for room (``offer(wait=True)``)."""
    frames: deque[Frame] = field(default_factory=deque)
    counters: CameraCounters = field(default_factory=CameraCounters)
    next_due: float | None = None
    closed: bool = False
    busy: int = 0
    """Frames taken and not yet released (being inferred)."""
    reader_waits: bool = False
    """The camera's reader waits for room (``offer(wait=True)`` found the read-ahead full)."""

    @property
    def read_ahead(self) -> int:
        """Frames a waiting reader may queue (``offer(wait=True)``)."""
        return max(self.depth, READ_AHEAD)


class Scheduler:
    """Thread-safe frame queues with a policy; see the module docstring.

    One lock guards every queue; each waiter sleeps on its own condition (the shared slot on ``_ready``,
    a camera's slot on its ``ready``, its reader on its ``space``), so a frame wakes the one thread that
    can use it, not every thread of every camera (at thousands of frames/s those wake-ups cost more
    than the model).
    """

    def __init__(
        self, cameras: Sequence[tuple[str, float | None]], *, policy: str = "alternate", queue: int = 1
    ) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"unknown scheduler policy {policy!r}", hint=f"use one of: {', '.join(POLICIES)}")
        if not cameras:
            raise ConfigError("the scheduler needs at least one camera")
        self.policy = policy
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queues = [
            _Queue(name, fps, queue, threading.Condition(self._lock), threading.Condition(self._lock))
            for name, fps in cameras
        ]
        self._by_name = {q.name: q for q in self._queues}
        self._turn = 0
        self._turn_since: float | None = None
        self._closed = False

    # producers -------------------------------------------------------------------------------------------

    def offer(self, frame: Frame, wait: bool = False) -> bool:
        """Queue ``frame``; False if it was skipped (over the camera's fps) or the scheduler is closed.

        ``wait=False`` (live sources): a full queue drops its oldest frame. ``wait=True`` (a file read
        flat out): up to ``READ_AHEAD`` frames wait; past that, block until half are taken, so no frame is
        dropped.
        """
        with self._lock:
            q = self._by_name[frame.camera]
            q.counters.frames_in += 1
            if q.fps is not None:
                if q.next_due is not None and frame.time_s < q.next_due - 1e-6:
                    q.counters.skipped += 1
                    return False
                period = 1.0 / q.fps
                # keep the cadence (due one period after the last due time) unless far behind it
                late = q.next_due is None or frame.time_s - q.next_due > period
                q.next_due = frame.time_s + period if late or q.next_due is None else q.next_due + period
            if wait and len(q.frames) >= q.read_ahead:
                q.reader_waits = True
                while len(q.frames) > q.read_ahead // 2 and not self._closed:
                    q.space.wait(0.1)
                q.reader_waits = False
            if self._closed:
                return False
            if not wait and len(q.frames) >= q.depth:
                q.frames.popleft()
                q.counters.dropped += 1
            q.frames.append(frame)
            q.ready.notify()
            self._ready.notify()
            return True

    def finish(self, camera: str) -> None:
        """``camera`` delivers no more frames (its turn is skipped from now on)."""
        with self._lock:
            q = self._by_name[camera]
            q.closed = True
            q.ready.notify_all()
            self._ready.notify_all()

    def close(self) -> None:
        """Wake every waiter; ``next`` returns what is still queued, then None."""
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            for q in self._queues:
                q.ready.notify_all()
                q.space.notify_all()

    # consumers -------------------------------------------------------------------------------------------

    @property
    def exhausted(self) -> bool:
        """Every camera finished (or the scheduler closed) and no frame is left."""
        with self._lock:
            return all(not q.frames for q in self._queues) and (self._closed or all(q.closed for q in self._queues))

    def next(self, timeout: float) -> Frame | None:
        """The next frame for the shared slot by the policy, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                frame = self._pick()
                if frame is not None:
                    return frame
                left = deadline - time.monotonic()
                ended = self._closed or all(q.closed for q in self._queues)
                if left <= 0 or (ended and self._empty()):
                    return None
                self._ready.wait(min(left, self._turn_wait()))

    def next_batch(self, limit: int, timeout: float) -> list[Frame]:
        """The next frame by the policy (waiting up to ``timeout``), then up to ``limit - 1`` more that are
        already waiting and would come next by the policy (no extra wait): one inference call for several."""
        first = self.next(timeout)
        if first is None:
            return []
        out = [first]
        with self._lock:
            while len(out) < limit:
                frame = self._pick_waiting()
                if frame is None:
                    break
                out.append(frame)
        return out

    def _pick_waiting(self) -> Frame | None:
        if self.policy == "round-robin":
            return self._pick()
        q = self._queues[self._turn]
        if not q.frames:
            return None
        self._turn, self._turn_since = (self._turn + 1) % len(self._queues), None
        return self._take(q)

    def release(self, frames: list[Frame]) -> None:
        """The model is done with ``frames`` (taken by ``next``, ``next_batch``, ``next_for`` or ``next_batch_for``)."""
        with self._lock:
            for frame in frames:
                self._by_name[frame.camera].busy -= 1

    def pending(self, camera: str) -> int:
        """Frames of ``camera`` queued or being inferred."""
        with self._lock:
            q = self._by_name[camera]
            return len(q.frames) + q.busy

    def next_for(self, camera: str, timeout: float) -> Frame | None:
        """The oldest waiting frame of ``camera`` (policy ``per-camera``), or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        q = self._by_name[camera]
        with self._lock:
            while not q.frames:
                left = deadline - time.monotonic()
                if left <= 0 or q.closed or self._closed:
                    return None
                q.ready.wait(left)
            return self._take(q)

    def next_batch_for(self, camera: str, limit: int, timeout: float) -> list[Frame]:
        """``next_for``, then up to ``limit - 1`` more of ``camera``'s frames already waiting (no extra wait)."""
        first = self.next_for(camera, timeout)
        if first is None:
            return []
        out = [first]
        q = self._by_name[camera]
        with self._lock:
            while len(out) < limit and q.frames:
                out.append(self._take(q))
        return out

    def _empty(self) -> bool:
        return all(not q.frames for q in self._queues)

    def _take(self, q: _Queue) -> Frame:
        q.counters.taken += 1
        q.busy += 1
        frame = q.frames.popleft()
        if q.reader_waits and len(q.frames) <= q.read_ahead // 2:
            q.space.notify()
        return frame

    def _pick(self) -> Frame | None:
        n = len(self._queues)
        if self.policy == "round-robin":
            for step in range(n):
                q = self._queues[(self._turn + step) % n]
                if q.frames:
                    self._turn = (self._turn + step + 1) % n
                    return self._take(q)
            return None
        # alternate: only the turn's camera; the turn passes once it waited one frame period, or it finished
        for _ in range(n):
            q = self._queues[self._turn]
            if q.frames:
                self._turn, self._turn_since = (self._turn + 1) % n, None
                return self._take(q)
            now = time.monotonic()
            if self._turn_since is None:
                self._turn_since = now
            if not (q.closed or now - self._turn_since >= self._period(q)):
                return None
            self._turn, self._turn_since = (self._turn + 1) % n, None
        return None

    def _period(self, q: _Queue) -> float:
        return 1.0 / q.fps if q.fps else 0.2

    def _turn_wait(self) -> float:
        return 0.01 if self.policy == "alternate" else 0.1

    # reporting -------------------------------------------------------------------------------------------

    def counters(self) -> dict[str, CameraCounters]:
        """A copy of every camera's counters."""
        with self._lock:
            return {q.name: CameraCounters(**vars(q.counters)) for q in self._queues}

    def backlog(self) -> dict[str, int]:
        with self._lock:
            return {q.name: len(q.frames) for q in self._queues}
