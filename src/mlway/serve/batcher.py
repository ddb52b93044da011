"""Dynamic batching for one model: a bounded queue that groups compatible requests into one call.

A request (a *job*) waits in the model's queue until a worker slot is free. A free slot takes the
oldest job and every later job with the same key (same trailing shapes and dtypes, or "text") up to
``max_batch`` items. If fewer than ``max_batch`` items wait, a free slot waits up to ``max_delay``
after the oldest job arrived for more to come; jobs that arrive while every slot is busy are batched
anyway. At most ``concurrency`` batches run at once (the model's ``max_concurrency``); at most
``max_queue`` jobs wait beyond them, and one more is refused at once with ``OverloadedError`` (429).

``pipeline`` more batches may be sent ahead while ``concurrency`` run, but only full ones
(``max_batch`` items waiting): they queue inside the worker process, so it starts the next call the
moment the current one ends instead of idling while the answer crosses back, is written to the client
and the next batch is formed and sent. A partial batch is never sent ahead: it would split items
that the next free slot takes whole.
A job past its deadline fails with the error ``expired(job)`` builds (504), whether it is still
queued or already running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mlway.runtime import OverloadedError

log = logging.getLogger(__name__)

P = TypeVar("P")


@dataclass(eq=False)
class Job(Generic[P]):
    """One request's share of a batch: its payload, item count, batching key, deadline and future."""

    payload: P
    size: int
    key: Hashable
    deadline: float
    enqueued: float
    future: asyncio.Future[Any] = field(repr=False)
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def resolve(self, result: object) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


Runner = Callable[[list[Job[P]]], Awaitable[None]]


class Batcher(Generic[P]):
    """The queue and dispatcher of one model (one per request form: tensors or text)."""

    def __init__(
        self,
        model: str,
        run: Runner[P],
        *,
        max_batch: int,
        max_delay: float,
        max_queue: int,
        concurrency: int,
        expired: Callable[[Job[P]], BaseException],
        overload_hint: str,
        pipeline: int = 0,
    ) -> None:
        self.model = model
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.max_queue = max_queue
        self.concurrency = concurrency
        self.pipeline = pipeline
        self._run = run
        self._expired = expired
        self._overload_hint = overload_hint
        self._queue: deque[Job[P]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def depth(self) -> int:
        """Jobs waiting for a worker slot."""
        return len(self._queue)

    @property
    def running(self) -> int:
        """Batches being inferred right now."""
        return self._running

    def full(self) -> str | None:
        """Why a new job would be refused now (the message of the 429), or None."""
        if self._closed:
            return f"model {self.model!r} is shutting down"
        if len(self._queue) >= self.max_queue and self._running >= self.concurrency:
            return (
                f"model {self.model!r} is overloaded: {len(self._queue)} requests already wait "
                f"behind {self._running} running batch(es)"
            )
        return None

    def submit(self, payload: P, *, size: int, key: Hashable, deadline: float) -> asyncio.Future[Any]:
        """Queue one job; its future resolves to what the runner sets. Raises ``OverloadedError`` at once."""
        refusal = self.full()
        if refusal is not None:
            raise OverloadedError(refusal, hint=None if self._closed else self._overload_hint)
        loop = asyncio.get_running_loop()
        job: Job[P] = Job(payload, size, key, deadline, loop.time(), loop.create_future())
        job.timer = loop.call_at(deadline, self._expire, job)
        job.future.add_done_callback(lambda _: job.timer.cancel() if job.timer else None)
        self._queue.append(job)
        self._dispatch()
        return job.future

    def _expire(self, job: Job[P]) -> None:
        if job.future.done():
            return
        with contextlib.suppress(ValueError):  # already running: the batch goes on, this answer is dropped
            self._queue.remove(job)
        job.fail(self._expired(job))

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        while self._queue and self._running < self.concurrency + self.pipeline:
            while self._queue and self._queue[0].future.done():
                self._queue.popleft()
            if not self._queue:
                return
            head = self._queue[0]
            waiting = sum(j.size for j in self._queue if j.key == head.key)
            if self._running >= self.concurrency and waiting < self.max_batch:
                return  # only a full batch goes ahead; the rest waits for a slot to free
            ready_at = head.enqueued + self.max_delay
            if waiting < self.max_batch and loop.time() < ready_at and not self._closed:
                self._timer = loop.call_at(ready_at, self._dispatch)
                return
            batch = self._take(head.key)
            self._running += 1
            task = loop.create_task(self._execute(batch), name=f"batch-{self.model}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self, key: Hashable) -> list[Job[P]]:
        batch: list[Job[P]] = []
        items = 0
        kept: deque[Job[P]] = deque()
        for job in self._queue:
            if job.future.done():
                continue
            if job.key == key and (not batch or items + job.size <= self.max_batch):
                batch.append(job)
                items += job.size
            else:
                kept.append(job)
        self._queue = kept
        return batch

    async def _execute(self, batch: list[Job[P]]) -> None:
        try:
            await self._run(batch)
        except Exception as exc:  # noqa: BLE001 - batch boundary: every job learns the failure
            for job in batch:
                job.fail(exc)
        finally:
            for job in batch:
                if not job.future.done():  # a runner that forgot a job must not leave a client hanging
                    job.fail(RuntimeError(f"model {self.model!r}: the batch ended without an answer"))
            self._running -= 1
            if not self._closed or self._queue:
                self._dispatch()

    async def close(self) -> None:
        """Refuse new jobs, fail queued ones, and wait for running batches."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        while self._queue:
            self._queue.popleft().fail(OverloadedError(f"model {self.model!r} is shutting down"))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
