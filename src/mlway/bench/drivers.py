"""Load drivers: decide when each request starts.

Closed loop: ``concurrency`` users, each sending its next request when the previous one ends (plus an
optional think time). Open loop: requests arrive at a target rate (constant, Poisson or gamma gaps)
whatever the server does, optionally capped at ``max_concurrency`` in flight; the time an arrival
waits in the client before it is sent is recorded as queue time.

A driver calls ``prepare(index)`` to build a request's payload (the prompt) *before* its scheduled time,
then ``issue(index, scheduled_at, payload)``; times are on the run clock. So prompt building never
counts as client queue time unless the client has no slack left.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlway.bench.arrivals import interarrival_gaps
from mlway.bench.summary import LoadSpec

Issue = Callable[[int, float, Any], Awaitable[None]]
Prepare = Callable[[int], Any]


@dataclass(slots=True)
class Stop:
    """When a load point ends: after ``requests`` requests (warm-up included) and/or ``duration``
    seconds of sending; in-flight requests then get ``drain`` seconds to finish before cancellation."""

    requests: int | None
    duration: float | None
    drain: float = 60.0


async def drive(
    load: LoadSpec, stop: Stop, issue: Issue, *, prepare: Prepare, clock_zero: float, halt: asyncio.Event,
    think_time: float = 0.0, seed: int = 0,
) -> None:  # fmt: skip
    """Run one load point to its stop condition (or until ``halt`` is set)."""
    if load.mode == "concurrency":
        tasks = _closed_loop(load, stop, issue, prepare, zero=clock_zero, think_time=think_time)
        await _supervise(tasks, stop, halt)
    else:
        await _open_loop(load, stop, issue, prepare, zero=clock_zero, halt=halt, rng=random.Random(seed))


def _closed_loop(
    load: LoadSpec, stop: Stop, issue: Issue, prepare: Prepare, *, zero: float, think_time: float
) -> list[asyncio.Task[None]]:
    counter = itertools.count()
    limit = stop.requests if stop.requests is not None else math.inf
    duration = stop.duration if stop.duration is not None else math.inf
    perf = time.perf_counter

    async def user() -> None:
        while True:
            index = next(counter)
            now = perf() - zero
            if index >= limit or now >= duration:
                return
            payload = prepare(index)
            await issue(index, perf() - zero, payload)
            if think_time:
                await asyncio.sleep(think_time)

    return [asyncio.create_task(user()) for _ in range(load.concurrency or 1)]


async def _supervise(tasks: Sequence[asyncio.Future[Any]], stop: Stop, halt: asyncio.Event) -> None:
    """Wait for the tasks, the halt event, or the duration plus drain deadline; cancel the rest."""
    halted = asyncio.create_task(halt.wait())
    deadline = stop.duration + stop.drain if stop.duration is not None else None
    pending: set[asyncio.Future[Any]] = set(tasks)
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline if deadline is not None else None
        while pending and not halt.is_set():
            timeout = None if end is None else max(end - loop.time(), 0.0)
            _, pending = await asyncio.wait(pending | {halted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(halted)
            if end is not None and loop.time() >= end:
                break
    finally:
        halted.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _open_loop(
    load: LoadSpec,
    stop: Stop,
    issue: Issue,
    prepare: Prepare,
    *,
    zero: float,
    halt: asyncio.Event,
    rng: random.Random,
) -> None:
    rate = load.rate or 1.0
    gaps = interarrival_gaps(load.arrival or "poisson", rate, burstiness=load.burstiness or 1.0, rng=rng)
    slots = asyncio.Semaphore(load.max_concurrency) if load.max_concurrency else None
    limit = stop.requests if stop.requests is not None else math.inf
    duration = stop.duration if stop.duration is not None else math.inf
    in_flight: set[asyncio.Task[None]] = set()
    perf = time.perf_counter

    async def one(index: int, at: float, payload: Any) -> None:
        if slots is None:
            await issue(index, at, payload)
            return
        async with slots:
            await issue(index, at, payload)

    at, index = 0.0, 0
    while index < limit and at < duration and not halt.is_set():
        payload = prepare(index)  # built while waiting for the arrival, not after it
        delay = at - (perf() - zero)
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, at, payload))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        await asyncio.sleep(0)  # let it send now, before the next payload is built
        index += 1
        at += next(gaps)
    drain = Stop(requests=None, duration=0.0, drain=stop.drain)
    await _supervise(list(in_flight), drain, halt)
