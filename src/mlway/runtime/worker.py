"""The host's handle on one worker process: start it, send it requests, watch it, stop it.

One monitor thread per worker receives replies, fails requests past their deadline, reads the
worker's RSS every ``watchdog_interval`` and kills it when it exceeds its memory limit. When the
process ends for any reason, every request it still held fails at once (never a hang) and the
``on_exit`` callback learns why: ``quota``, ``crash`` or ``stopped``.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import numpy as np

from mlway.core.errors import MlwayError
from mlway.core.units import format_bytes
from mlway.runtime.errors import DeadlineExceededError, ModelUnavailableError, QuotaExceededError, WorkerCrashedError
from mlway.runtime.failures import error_from
from mlway.runtime.limits import rss_of
from mlway.runtime.messages import (
    EXIT_OUT_OF_MEMORY,
    InferFailed,
    InferReply,
    InferRequest,
    LoadFailed,
    MeasureReply,
    MeasureRequest,
    Ready,
    Shutdown,
    WorkerSpec,
)

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class ExitCause:
    """Why a worker process ended."""

    kind: Literal["quota", "crash", "stopped"]
    message: str


@dataclass(slots=True)
class _Pending:
    future: Future[Any]
    deadline: float
    what: str


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Worker:
    """One OS process serving one variant of one model."""

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        on_exit: Callable[[Worker, ExitCause], None] | None = None,
        watchdog_interval: float = 0.05,
    ) -> None:
        self.spec = spec
        self.label = f"{spec.model}/{spec.variant}"
        self.on_exit = on_exit
        self.watchdog_interval = watchdog_interval
        self.process: subprocess.Popen[bytes] | None = None
        self.ready: Ready | None = None
        self.rss = 0
        self.peak_rss = 0
        self.served = 0
        self.failed = 0
        self.cause: ExitCause | None = None
        self._conn: Connection | None = None
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = False
        self._kill_cause: ExitCause | None = None
        self._monitor: threading.Thread | None = None
        self._exited = threading.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def alive(self) -> bool:
        doomed = self._kill_cause is not None  # breached its quota: being killed, takes no new requests
        return self.ready is not None and not self._exited.is_set() and not self._stopping and not doomed

    def _spawn(self) -> Connection:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        threads = str(self.spec.threads)
        env |= {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "mlway.runtime.worker_main", str(child.fileno())],
            pass_fds=(child.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=2,  # anything an engine prints goes to stderr, never into a server's or CLI's stdout
        )
        child.close()
        return Connection(parent.detach())

    def start(self, timeout: float) -> Ready:
        """Start the process and wait until the variant is loaded and warm; raise why it is not."""
        conn = self._conn = self._spawn()
        conn.send(self.spec)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill_now()
                self._reap()
                conn.close()
                raise DeadlineExceededError(
                    f"{self.label} did not load within {timeout:.0f} s",
                    hint="raise the host's load_timeout, or check the model file",
                )
            try:
                if conn.poll(min(self.watchdog_interval, remaining)):
                    message = conn.recv()
                    break
            except (EOFError, OSError):
                code = self._reap()
                conn.close()
                raise WorkerCrashedError(f"{self.label}: the worker {describe_exit(code)} while loading") from None
            self._check_rss(loading=True)
            if self._kill_cause is not None:
                self._reap()
                conn.close()
                raise QuotaExceededError(self._kill_cause.message)
        if isinstance(message, LoadFailed):
            self._reap()
            conn.close()
            raise error_from(message.failure, f"{self.spec.variant} failed to load")
        if not isinstance(message, Ready):  # pragma: no cover - protocol violation
            self._kill_now()
            raise WorkerCrashedError(f"{self.label}: unexpected first message {type(message).__name__}")
        self.ready = message
        self.rss = message.rss_bytes
        self.peak_rss = max(self.peak_rss, message.peak_rss_bytes)
        self._monitor = threading.Thread(target=self._run_monitor, name=f"worker-{self.label}", daemon=True)
        self._monitor.start()
        return message

    def submit(self, inputs: Arrays, deadline: float) -> Future[Arrays]:
        """Send one request; the future fails with a runtime error on deadline, breach or crash."""
        return self._send(lambda rid: InferRequest(rid, inputs, deadline), deadline, "request")

    def measure(self, batch: int, iterations: int, max_seconds: float) -> Future[MeasureReply]:
        deadline = time.monotonic() + max_seconds * 2 + 60
        return self._send(lambda rid: MeasureRequest(rid, batch, iterations, max_seconds), deadline, "measurement")

    def _send(self, build: Callable[[int], object], deadline: float, what: str) -> Future[Any]:
        future: Future[Any] = Future()
        if not self.alive or self._conn is None:
            future.set_exception(ModelUnavailableError(f"{self.label} is not serving"))
            return future
        rid = next(self._ids)
        with self._lock:
            self._pending[rid] = _Pending(future, deadline, what)
        try:
            with self._send_lock:
                self._conn.send(build(rid))
        except (OSError, EOFError, ValueError):
            self._resolve(rid, error=WorkerCrashedError(f"{self.label}: the worker is gone; the {what} was lost"))
        return future

    def _resolve(self, rid: int, *, result: object = None, error: BaseException | None = None) -> None:
        with self._lock:
            pending = self._pending.pop(rid, None)
        if pending is None:
            return
        if error is not None:
            self.failed += 1
            pending.future.set_exception(error)
        else:
            self.served += 1
            pending.future.set_result(result)

    def _check_rss(self, *, loading: bool = False) -> None:
        pid = self.pid
        rss = rss_of(pid) if pid else None
        if rss is None:
            return
        self.rss = rss
        self.peak_rss = max(self.peak_rss, rss)
        limit = self.spec.memory_limit
        if rss > limit and self._kill_cause is None and not self._stopping:
            when = " while loading" if loading else ""
            self._kill_cause = ExitCause(
                "quota",
                f"{self.spec.variant} exceeded its {format_bytes(limit)} quota{when} (RSS {format_bytes(rss)})",
            )
            log.warning("%s: %s", self.label, self._kill_cause.message)
            self._kill_now()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [rid for rid, p in self._pending.items() if p.deadline <= now]
        for rid in late:
            self._resolve(
                rid,
                error=DeadlineExceededError(
                    f"{self.label}: the request did not finish before its deadline",
                    hint="raise the request timeout (timeout= on infer, or the server's request timeout)",
                ),
            )

    def _run_monitor(self) -> None:
        conn = self._conn
        assert conn is not None
        next_watch = 0.0
        while True:
            try:
                if conn.poll(0.02):
                    self._dispatch(conn.recv())
            except (EOFError, OSError):
                break
            self._expire()
            if time.monotonic() >= next_watch:
                self._check_rss()
                next_watch = time.monotonic() + self.watchdog_interval
        self._finish()

    def _dispatch(self, message: object) -> None:
        if isinstance(message, InferReply):
            self._resolve(message.id, result=message.outputs)
        elif isinstance(message, MeasureReply):
            self._resolve(message.id, result=message)
        elif isinstance(message, InferFailed):
            error = error_from(message.failure, self.label)
            if message.failure.out_of_memory:
                self._kill_cause = ExitCause(
                    "quota",
                    f"{self.spec.variant} ran out of address space under its "
                    f"{format_bytes(self.spec.memory_limit)} quota",
                )
                error = QuotaExceededError(self._kill_cause.message)
            self._resolve(message.id, error=error)

    def _finish(self) -> None:
        code = self._reap()
        if self._kill_cause is not None:
            cause = self._kill_cause
        elif self._stopping:
            cause = ExitCause("stopped", f"{self.spec.variant} was stopped")
        elif code == EXIT_OUT_OF_MEMORY:
            cause = ExitCause("quota", f"{self.spec.variant} ran out of memory under its quota")
        else:
            cause = ExitCause("crash", f"{self.spec.variant} crashed: the worker {describe_exit(code)}")
        self.cause = cause
        error_type: type[MlwayError] = {"quota": QuotaExceededError, "crash": WorkerCrashedError}.get(
            cause.kind, ModelUnavailableError
        )
        self._exited.set()
        if self._conn is not None:
            self._conn.close()
        if self.on_exit is not None and cause.kind != "stopped":
            self.on_exit(self, cause)  # first, so a client retrying on the error below waits for the replacement
        with self._lock:
            rids = list(self._pending)
        for rid in rids:
            self._resolve(rid, error=error_type(f"{self.spec.model}: {cause.message}; the request was lost"))

    def _reap(self) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def _kill_now(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Let in-flight requests finish (up to ``drain_timeout``), then end the process."""
        if self.process is None:
            return
        end = time.monotonic() + drain_timeout
        while self.in_flight and time.monotonic() < end and not self._exited.is_set():
            time.sleep(0.01)
        self._stopping = True
        if self._conn is not None and not self._exited.is_set():
            try:
                with self._send_lock:
                    self._conn.send(Shutdown())
            except (OSError, ValueError):
                pass
        try:
            self.process.wait(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self._monitor is not None:
            self._monitor.join(timeout=10)
        elif self._conn is not None:
            self._conn.close()
        self._exited.set()
