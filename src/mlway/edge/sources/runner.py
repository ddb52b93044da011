"""Keeps one camera delivering: each attempt reads on its own thread; a failure, a stall or an end restarts it.

A failed open or read is retried with exponential backoff and jitter (``backoff_base_s`` doubling up
to ``backoff_max_s``, back to the base once an attempt delivered frames). An attempt that delivers
no frame for ``stall_s`` (while not waiting for the model) is abandoned and a new one started: a
blocked read can not be interrupted from outside, so its thread is left to end on its own and can
no longer deliver. A finite source that ends stops the camera (``on_end: stop``) or restarts it.
Every restart is counted and reported through ``on_fault``.

Stream times are kept non-decreasing across restarts (a replayed file continues after the last
frame), so one smoother per camera sees one timeline.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from mlway.edge.config import CameraConfig
from mlway.edge.sources.base import Frame, Source

log = logging.getLogger(__name__)

SourceState = Literal["starting", "running", "restarting", "ended", "stopped"]
Deliver = Callable[[Frame, bool], bool]
"""``deliver(frame, wait)``: hand a frame to the scheduler; ``wait`` blocks for room instead of dropping."""


@dataclass
class _Attempt:
    number: int
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    frames: int = 0


class SourceRunner:
    """A thread that runs one camera's source and restarts it; ``stats`` for the status file."""

    def __init__(
        self,
        camera: CameraConfig,
        deliver: Deliver,
        *,
        opener: Callable[[CameraConfig], Source],
        on_fault: Callable[[str], None] = log.warning,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        prepare: Callable[[NDArray[np.uint8]], NDArray[np.float32]] | None = None,
    ) -> None:
        """``prepare``: the model's preprocessing, run here on the camera's thread (beside decoding, in
        parallel with inference) so the inference slot only runs the model."""
        self.camera = camera
        self._prepare = prepare
        self._deliver = deliver
        self._opener = opener
        self._on_fault = on_fault
        self._backoff = (backoff_base_s, backoff_max_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mlway-source-{camera.name}", daemon=True)
        self._lock = threading.Lock()
        self.state: SourceState = "starting"
        self.frames = 0
        self.restarts = 0
        self.last_error: str | None = None
        self.last_frame_mono: float | None = None
        self._progress = time.monotonic()
        self._waiting = False
        self._t0 = time.monotonic()
        self._last_time: float | None = None
        self._offset: float | None = None
        self._period = 0.2
        self._attempt: _Attempt | None = None

    # lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        attempt = self._attempt
        if attempt is not None:
            attempt.cancelled.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        """The camera delivers no more frames (its source ended with ``on_end: stop``, or it was stopped)."""
        return self.state in {"ended", "stopped"}

    # the supervisor loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        number = 0
        while not self._stop.is_set():
            number += 1
            attempt = self._attempt = _Attempt(number)
            self._progress = time.monotonic()
            self._offset = None
            source = self._opener(self.camera)
            threading.Thread(target=self._read, args=(source, attempt), name=f"mlway-read-{self.camera.name}-{number}",
                             daemon=True).start()  # fmt: skip
            why = self._watch(attempt)
            if self._stop.is_set():
                break
            if why is None and source.finite and self.camera.on_end == "stop":
                self.state = "ended"
                log.info("camera %s: source ended after %d frames", self.camera.name, self.frames)
                return
            if why is None:
                why = "reached the end of its source" if source.finite else "stream ended"
                wait = 0.0
            else:
                wait = 0.0 if attempt.frames and why.startswith("stalled") else delay
                delay = self._backoff[0] if attempt.frames else min(delay * 2, self._backoff[1])
            with self._lock:
                self.restarts += 1
                self.last_error = why
                self.state = "restarting"
            self._on_fault(f"camera {self.camera.name}: {why}; restart {self.restarts}" +
                           (f" in {wait:.1f}s" if wait else ""))  # fmt: skip
            if wait and self._stop.wait(wait * random.uniform(0.8, 1.2)):
                break
        self.state = "stopped"

    def _watch(self, attempt: _Attempt) -> str | None:
        """Wait for the attempt to end; the reason it failed or stalled, None for a normal end."""
        stall = self.camera.stall_s
        while not attempt.done.wait(0.1):
            if self._stop.is_set():
                attempt.cancelled.set()
                return "stopped"
            idle = time.monotonic() - self._progress
            if not self._waiting and idle > stall:
                attempt.cancelled.set()
                return f"stalled: no frame for {idle:.1f}s (stall_s={stall:g})"
        return attempt.error

    def _read(self, source: Source, attempt: _Attempt) -> None:
        try:
            for seconds, pixels in source.read():
                if attempt.cancelled.is_set():
                    break
                self._emit(seconds, pixels, attempt)
        except Exception as exc:  # noqa: BLE001 - any library failure of a source is reported and restarted
            attempt.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        finally:
            try:
                source.close()
            except Exception as exc:  # noqa: BLE001 - closing a broken stream may fail too
                log.debug("camera %s: close failed: %s", self.camera.name, exc)
            attempt.done.set()

    def _emit(self, seconds: float | None, pixels: NDArray[np.uint8], attempt: _Attempt) -> None:
        now = time.monotonic()
        time_s = self._stream_time(seconds, now)
        tensor = self._prepare(pixels) if self._prepare is not None else None
        frame = Frame(self.camera.name, self.frames, time_s, time.time(), now, pixels, tensor)
        self.state = "running"
        self.frames += 1
        attempt.frames += 1
        self._progress = self.last_frame_mono = now
        self._waiting = True
        try:
            self._deliver(frame, self.camera.pace == "fast" and seconds is not None)
        finally:
            self._waiting = False
            self._progress = time.monotonic()

    def _stream_time(self, seconds: float | None, now: float) -> float:
        if seconds is None:
            value = now - self._t0
        else:
            if self._offset is None:
                start = 0.0 if self._last_time is None else self._last_time + self._period
                self._offset = start - seconds
            value = seconds + self._offset
        if self._last_time is not None:
            if value > self._last_time:
                self._period = min(max(value - self._last_time, 0.001), 1.0)
            value = max(value, self._last_time)
        self._last_time = value
        return value
