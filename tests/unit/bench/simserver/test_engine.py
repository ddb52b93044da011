"""The scheduling model as a client would see it: when first tokens and later tokens arrive."""

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import pytest

from mlway.bench.simserver.config import SimServerConfig
from mlway.bench.simserver.engine import SimEngine
from mlway.core.errors import InputError

MS = 1e-3


@dataclass
class Seen:
    """Arrival times of one sequence's chunks, relative to when it was submitted."""

    submitted: float
    chunks: list[float] = field(default_factory=list)

    @property
    def ttft(self) -> float:
        return self.chunks[0]

    @property
    def total(self) -> float:
        return self.chunks[-1]


async def _read(engine: SimEngine, prompt: int, output: int) -> Seen:
    seq = engine.submit(prompt, output)
    seen = Seen(time.perf_counter())
    while chunks := await seq.next_chunks():
        seen.chunks += [time.perf_counter() - seen.submitted] * len(chunks)
    return seen


def _run_all(config: SimServerConfig, *jobs: tuple[int, int]) -> list[Seen]:
    async def main() -> list[Seen]:
        engine = SimEngine(config)
        return list(await asyncio.gather(*[_read(engine, p, o) for p, o in jobs]))

    return asyncio.run(main())


def assert_on_time(measured: float, expected: float) -> None:
    """Never early; late only by scheduling noise (generous: these tests run beside other work).
    The precise timing accuracy is measured in benchmarks/, not asserted here."""
    assert expected - 1 * MS <= measured <= expected + 30 * MS, (measured, expected)


def test_with_one_slot_requests_queue_and_ttft_grows_with_the_queue() -> None:
    config = SimServerConfig(ttft=20 * MS, itl=5 * MS, max_batch=1)
    seen = _run_all(config, *[(10, 4)] * 4)
    ttfts = [s.ttft for s in seen]
    assert ttfts == sorted(ttfts)
    assert_on_time(ttfts[0], 20 * MS)
    for before, after in itertools.pairwise(seen):
        # the next request starts only when the previous one has finished, then waits its own TTFT
        assert after.ttft >= before.total + 18 * MS


def test_a_batch_that_fits_gets_the_configured_ttft_for_everyone() -> None:
    config = SimServerConfig(ttft=30 * MS, itl=5 * MS, max_batch=8)
    seen = _run_all(config, *[(10, 5)] * 8)
    for s in seen:
        assert_on_time(s.ttft, 30 * MS)
        assert_on_time(s.total, 50 * MS)


def test_prefill_time_grows_with_the_prompt() -> None:
    config = SimServerConfig(ttft=10 * MS, itl=5 * MS, prefill_per_token=0.1 * MS)
    short, long = _run_all(config, (10, 2), (400, 2))
    assert_on_time(short.ttft, 11 * MS)
    assert_on_time(long.ttft, 50 * MS)


def test_bigger_batches_slow_every_step_when_batch_slowdown_is_set() -> None:
    config = SimServerConfig(ttft=0, itl=4 * MS, batch_slowdown=0.25, max_batch=16)
    (alone,) = _run_all(config, (1, 11))
    crowd = _run_all(config, *[(1, 11)] * 5)
    assert_on_time(alone.total, 40 * MS)
    # five running sequences: each step takes twice as long
    assert_on_time(min(s.total for s in crowd), 80 * MS)


def test_sequences_wait_for_kv_cache_space() -> None:
    config = SimServerConfig(ttft=10 * MS, itl=5 * MS, kv_cache_tokens=250)
    seen = _run_all(config, (100, 10), (100, 10), (100, 10))
    first, second, third = seen
    assert second.ttft < first.total  # both fit at once: the second did not wait for the first
    assert third.ttft >= first.total + 8 * MS  # the third waited for cache space


def test_many_steps_do_not_drift() -> None:
    config = SimServerConfig(ttft=0, itl=2 * MS)
    (seen,) = _run_all(config, (1, 151))
    assert_on_time(seen.total, 300 * MS)


def test_tokens_per_chunk_groups_tokens() -> None:
    config = SimServerConfig(ttft=0, itl=1 * MS, tokens_per_chunk=4)

    async def main() -> list[int]:
        seq = SimEngine(config).submit(1, 10)
        sizes: list[int] = []
        while chunk := await seq.next_chunks():
            sizes += chunk
        return sizes

    assert asyncio.run(main()) == [4, 4, 2]


def test_a_cancelled_sequence_frees_its_slot_at_once() -> None:
    config = SimServerConfig(ttft=10 * MS, itl=10 * MS, max_batch=1)

    async def main() -> tuple[int, int, float]:
        engine = SimEngine(config)
        first = engine.submit(1, 1000)
        started = time.perf_counter()
        second = engine.submit(1, 2)
        waiting = engine.waiting
        await first.next_chunks()
        engine.cancel(first)
        await second.next_chunks()
        return waiting, engine.running, time.perf_counter() - started

    waiting, running, second_ttft = asyncio.run(main())
    assert (waiting, running) == (1, 1)
    assert_on_time(second_ttft, 20 * MS)


def test_a_request_larger_than_the_cache_is_refused() -> None:
    engine = SimEngine(SimServerConfig(kv_cache_tokens=100))
    with pytest.raises(InputError, match="needs 150 tokens of KV cache"):
        engine.check_fits(100, 50)
