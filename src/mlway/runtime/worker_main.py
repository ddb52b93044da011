"""The worker process: ``python -m mlway.runtime.worker_main FD`` loads one variant and serves it.

It reads a :class:`WorkerSpec` from the pipe on ``FD``, pins itself to its cores, caps its address
space, loads and warms the backend, answers ``Ready`` (or ``LoadFailed`` and exits 1), then runs
requests until ``Shutdown`` or the host's end of the pipe closes: on its main thread when
``max_concurrency`` is 1 (a request sent ahead waits in the pipe; no second thread to wake per
request, a hand-off that took 0.16 ms at p50 in a trace), else on ``max_concurrency`` threads.
An allocation failure makes it answer the request and exit 3, which the host treats as a quota breach.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from mlway.core.errors import MlwayError
from mlway.runtime.backend import Backend, LoadSpec, resolve_target
from mlway.runtime.limits import cap_address_space, peak_rss_self, pin_to, rss_self
from mlway.runtime.messages import (
    EXIT_OUT_OF_MEMORY,
    Failure,
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
from mlway.runtime.tensors import dummy_inputs

_OOM_MARKERS = ("bad_alloc", "failed to allocate", "out of memory", "cannot allocate memory")


def failure_of(exc: BaseException) -> Failure:
    text = str(exc.message if isinstance(exc, MlwayError) else exc) or type(exc).__name__
    oom = isinstance(exc, MemoryError) or any(m in text.lower() for m in _OOM_MARKERS)
    hint = exc.hint if isinstance(exc, MlwayError) else None
    return Failure(kind=type(exc).__name__, message=text, hint=hint, out_of_memory=oom)


class _Server:
    def __init__(self, conn: Connection, spec: WorkerSpec, backend: Backend) -> None:
        self.conn = conn
        self.spec = spec
        self.backend = backend
        self.send_lock = threading.Lock()

    def send(self, message: object) -> None:
        with self.send_lock:
            self.conn.send(message)

    def infer(self, request: InferRequest) -> None:
        if time.monotonic() > request.deadline:
            self.send(InferFailed(request.id, Failure("DeadlineExceededError", "deadline passed before it ran")))
            return
        started = time.perf_counter()
        try:
            outputs = self.backend.infer(request.inputs)
        except BaseException as exc:  # noqa: BLE001 - request boundary: every failure goes back to the host
            failure = failure_of(exc)
            self.send(InferFailed(request.id, failure))
            if failure.out_of_memory:
                os._exit(EXIT_OUT_OF_MEMORY)
            return
        self.send(InferReply(request.id, outputs, time.perf_counter() - started))

    def measure(self, request: MeasureRequest) -> None:
        inputs = dummy_inputs(self.spec.inputs, batch=request.batch)
        latencies: list[float] = []
        stop = time.perf_counter() + request.max_seconds
        try:
            self.backend.infer(inputs)
            while len(latencies) < request.iterations and (len(latencies) < 3 or time.perf_counter() < stop):
                started = time.perf_counter()
                self.backend.infer(inputs)
                latencies.append(time.perf_counter() - started)
        except BaseException as exc:  # noqa: BLE001 - request boundary
            self.send(InferFailed(request.id, failure_of(exc)))
            return
        self.send(MeasureReply(request.id, tuple(latencies), peak_rss_self()))

    def handle(self, message: InferRequest | MeasureRequest) -> None:
        if isinstance(message, InferRequest):
            self.infer(message)
        else:
            self.measure(message)

    def serve(self) -> None:
        inline = self.spec.max_concurrency == 1
        with ThreadPoolExecutor(self.spec.max_concurrency, thread_name_prefix="infer") as pool:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    break
                if isinstance(message, Shutdown):
                    break
                if not isinstance(message, InferRequest | MeasureRequest):
                    continue
                if inline:
                    self.handle(message)
                else:
                    pool.submit(self.handle, message)
        self.backend.unload()


def run(conn: Connection) -> int:
    spec = conn.recv()
    if not isinstance(spec, WorkerSpec):
        return 2
    started = time.perf_counter()
    try:
        pin_to(spec.cpu_ids)
        factory = resolve_target(spec.backend_target)
        backend = factory(
            LoadSpec(
                model=spec.model,
                variant=spec.variant,
                entry=Path(spec.entry),
                files=tuple(Path(f) for f in spec.files),
                inputs=spec.inputs,
                outputs=spec.outputs,
                threads=spec.threads,
                options=spec.options,
            )
        )
        cap = cap_address_space(spec.memory_limit) if spec.address_space_limit else None
        backend.load()
        backend.warm_up()
    except BaseException as exc:  # noqa: BLE001 - process boundary: the host gets the reason
        conn.send(LoadFailed(failure_of(exc)))
        return 1
    ready = Ready(
        pid=os.getpid(),
        rss_bytes=rss_self(),
        peak_rss_bytes=peak_rss_self(),
        memory_estimate=backend.memory_estimate(),
        load_seconds=time.perf_counter() - started,
        address_space_limit=cap,
    )
    conn.send(ready)
    _Server(conn, spec, backend).serve()
    return 0


def main() -> int:
    conn = Connection(int(sys.argv[1]))
    try:
        return run(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
