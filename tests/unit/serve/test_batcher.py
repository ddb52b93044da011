"""The batcher groups requests that arrive while a worker is busy, bounds its queue and expires deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mlway.runtime import DeadlineExceededError, OverloadedError
from mlway.serve.batcher import Batcher, Job


class Worker:
    """A stand-in runner: records each batch, answers each job with its payload, and can be held busy."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self, jobs: list[Job[Any]]) -> None:
        self.batches.append([j.payload for j in jobs])
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        for job in jobs:
            job.resolve(job.payload)


def batcher(worker: Worker, **kwargs: Any) -> Batcher[Any]:
    settings: dict[str, Any] = {"max_batch": 4, "max_delay": 0.0, "max_queue": 8, "concurrency": 1}
    settings |= kwargs
    return Batcher(
        "m", worker, expired=lambda _job: DeadlineExceededError("late; raise timeout_ms"),
        overload_hint="raise max_queue", **settings,
    )  # fmt: skip


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def far() -> float:
    return asyncio.get_running_loop().time() + 60


def test_requests_arriving_while_the_worker_is_busy_form_one_batch() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker)
        worker.gate.clear()
        first = b.submit("a", size=1, key="k", deadline=far())
        await asyncio.sleep(0)
        rest = [b.submit(x, size=1, key="k", deadline=far()) for x in "bcd"]
        assert b.depth == 3
        worker.gate.set()
        assert await asyncio.gather(first, *rest) == ["a", "b", "c", "d"]
        assert worker.batches == [["a"], ["b", "c", "d"]]

    run(scenario)


def test_a_batch_holds_at_most_max_batch_items_and_only_one_key() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker, max_batch=3)
        worker.gate.clear()
        futures = [b.submit("head", size=1, key="k", deadline=far())]
        await asyncio.sleep(0)
        futures += [b.submit(f"x{i}", size=1, key="k", deadline=far()) for i in range(4)]
        futures.append(b.submit("other", size=1, key="other-shape", deadline=far()))
        worker.gate.set()
        await asyncio.gather(*futures)
        assert worker.batches == [["head"], ["x0", "x1", "x2"], ["x3"], ["other"]]

    run(scenario)


def test_a_free_worker_waits_up_to_max_delay_for_the_batch_to_fill() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker, max_batch=2, max_delay=60.0)
        first = b.submit("a", size=1, key="k", deadline=far())
        await asyncio.sleep(0)
        assert worker.batches == []  # waiting for a second item
        second = b.submit("b", size=1, key="k", deadline=far())
        assert await asyncio.gather(first, second) == ["a", "b"]
        assert worker.batches == [["a", "b"]]

    run(scenario)


def test_a_full_queue_refuses_at_once_with_the_setting_to_raise() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker, max_queue=2)
        worker.gate.clear()
        running = b.submit("run", size=1, key="k", deadline=far())
        await asyncio.sleep(0)
        queued = [b.submit(x, size=1, key="k", deadline=far()) for x in "ab"]
        with pytest.raises(OverloadedError, match="2 requests already wait") as info:
            b.submit("c", size=1, key="k", deadline=far())
        assert info.value.hint == "raise max_queue"
        worker.gate.set()
        await asyncio.gather(running, *queued)

    run(scenario)


def test_a_queued_request_past_its_deadline_fails_and_leaves_the_queue() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker)
        worker.gate.clear()
        running = b.submit("run", size=1, key="k", deadline=far())
        await asyncio.sleep(0)
        late = b.submit("late", size=1, key="k", deadline=asyncio.get_running_loop().time())
        with pytest.raises(DeadlineExceededError, match="timeout_ms"):
            await late
        assert b.depth == 0
        worker.gate.set()
        assert await running == "run"
        assert worker.batches == [["run"]]

    run(scenario)


def test_a_failed_batch_fails_every_request_in_it() -> None:
    async def scenario() -> None:
        worker = Worker()
        worker.fail = RuntimeError("worker crashed")
        b = batcher(worker, max_delay=60.0, max_batch=2)
        futures = [b.submit(x, size=1, key="k", deadline=far()) for x in "ab"]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert [str(r) for r in results] == ["worker crashed", "worker crashed"]

    run(scenario)


def test_close_fails_queued_requests_and_refuses_new_ones() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker)
        worker.gate.clear()
        running = b.submit("run", size=1, key="k", deadline=far())
        await asyncio.sleep(0)
        queued = b.submit("q", size=1, key="k", deadline=far())
        closing = asyncio.create_task(b.close())
        await asyncio.sleep(0)
        with pytest.raises(OverloadedError, match="shutting down"):
            await queued
        worker.gate.set()
        await closing
        assert await running == "run"
        with pytest.raises(OverloadedError):
            b.submit("late", size=1, key="k", deadline=far())

    run(scenario)


def test_a_full_batch_is_sent_ahead_while_one_runs_so_the_worker_never_waits_for_it() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker, max_batch=2, pipeline=1)
        worker.gate.clear()
        futures = [b.submit(x, size=2, key="k", deadline=far()) for x in ("a", "b", "c")]
        await asyncio.sleep(0)
        assert worker.batches == [["a"], ["b"]]  # the second full batch went ahead of the first's answer
        assert b.running == 2
        assert b.depth == 1  # no more than one ahead
        worker.gate.set()
        assert await asyncio.gather(*futures) == ["a", "b", "c"]

    run(scenario)


def test_a_partial_batch_is_not_sent_ahead_but_waits_to_be_taken_whole() -> None:
    async def scenario() -> None:
        worker = Worker()
        b = batcher(worker, max_batch=4, pipeline=1)
        worker.gate.clear()
        first = b.submit("a", size=4, key="k", deadline=far())
        await asyncio.sleep(0)
        rest = [b.submit(x, size=1, key="k", deadline=far()) for x in "bcd"]
        await asyncio.sleep(0.01)
        assert worker.batches == [["a"]]
        assert b.depth == 3
        worker.gate.set()
        assert await asyncio.gather(first, *rest) == ["a", "b", "c", "d"]
        assert worker.batches == [["a"], ["b", "c", "d"]]

    run(scenario)
