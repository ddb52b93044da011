"""The scheduling model of the simulated server: a FIFO queue feeding a continuous batch.

- A request waits in FIFO order until a batch slot is free (``max_batch``) and its tokens (prompt +
  output) fit in the free KV cache (``kv_cache_tokens``); the head of the queue blocks the rest.
- Once admitted, its first chunk comes ``ttft + prefill_per_token * prompt_tokens`` later.
- Then each step emits ``tokens_per_chunk`` tokens; a step takes
  ``itl * (1 + batch_slowdown * (running - 1))`` with ``running`` counted when the step starts.
- A finished (or cancelled) sequence frees its slot and cache at once and the queue moves.

So TTFT = queueing wait + ttft + prefill. Each sequence steps on its own phase (from its first
token) rather than on one global step clock, so its TTFT and every gap are exactly as configured;
the batch only changes how long a step takes. All times are simulated deadlines on
``perf_counter``: each is computed from the previous deadline, never from when the loop happened
to wake up, so lateness never accumulates.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from dataclasses import dataclass, field

from mlway.bench.simserver.config import SimServerConfig
from mlway.bench.simserver.deadline import DeadlineTimer
from mlway.core.errors import InputError


@dataclass(slots=True, eq=False)
class Sequence:
    """One request inside the engine; the HTTP handler reads its chunks."""

    prompt_tokens: int
    output_tokens: int
    arrived_at: float
    admitted_at: float = float("nan")
    emitted: int = 0
    finished: bool = False
    due: float = float("nan")
    """The scheduled time of the latest chunk delivered (to measure how late it went out)."""
    _pending: list[int] = field(default_factory=list)
    _waiter: asyncio.Future[None] | None = None

    @property
    def kv_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    async def next_chunks(self) -> list[int]:
        """Token counts of the chunks emitted since the last call; waits for at least one."""
        while not self._pending:
            if self.finished:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunks, self._pending = self._pending, []
        return chunks

    def deliver(self, tokens: int | None) -> None:
        """Engine side: hand over one chunk of ``tokens`` (None: just wake the reader)."""
        if tokens is not None:
            self._pending.append(tokens)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class SimEngine:
    """Admits, times and finishes sequences; counters feed /metrics."""

    def __init__(self, config: SimServerConfig) -> None:
        self._config = config
        self._waiting: deque[Sequence] = deque()
        self._running: set[Sequence] = set()
        self._heap: list[tuple[float, int, Sequence]] = []
        self._order = itertools.count()
        self._kv_reserved = 0
        self._timer: DeadlineTimer | None = None
        self.generated_tokens = 0

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def kv_tokens_used(self) -> int:
        """Tokens held in the KV cache now: prompts plus tokens generated so far."""
        return sum(seq.prompt_tokens + seq.emitted for seq in self._running)

    def check_fits(self, prompt_tokens: int, output_tokens: int) -> None:
        """Raise :class:`InputError` if a sequence could never fit in the KV cache."""
        capacity = self._config.kv_cache_tokens
        if prompt_tokens + output_tokens > capacity:
            raise InputError(
                f"the request needs {prompt_tokens + output_tokens} tokens of KV cache ({prompt_tokens} "
                f"prompt + {output_tokens} output) but the simulated cache holds {capacity}",
                hint="send a shorter prompt or max_tokens, or start the sim with a larger kv_cache_tokens",
            )

    def submit(self, prompt_tokens: int, output_tokens: int) -> Sequence:
        """Queue a sequence that will generate ``output_tokens`` tokens."""
        self.check_fits(prompt_tokens, output_tokens)
        seq = Sequence(prompt_tokens, output_tokens, arrived_at=time.perf_counter())
        if self._timer is None:
            self._timer = DeadlineTimer(self._tick, precise=self._config.precise_timing)
        self._waiting.append(seq)
        self._admit(seq.arrived_at)
        self._arm()
        return seq

    def cancel(self, seq: Sequence) -> None:
        """Drop a sequence whose client went away; a no-op once it has finished."""
        if seq.finished:
            return
        if seq in self._running:
            self._finish(seq)
            self._admit(time.perf_counter())
            self._arm()
        else:
            self._waiting.remove(seq)
            seq.finished = True

    def _admit(self, at: float) -> None:
        config = self._config
        while self._waiting and len(self._running) < config.max_batch:
            seq = self._waiting[0]
            if self._kv_reserved + seq.kv_tokens > config.kv_cache_tokens:
                return
            self._waiting.popleft()
            self._running.add(seq)
            self._kv_reserved += seq.kv_tokens
            seq.admitted_at = max(at, seq.arrived_at)
            first = seq.admitted_at + config.ttft + config.prefill_per_token * seq.prompt_tokens
            heapq.heappush(self._heap, (first, next(self._order), seq))

    def _finish(self, seq: Sequence) -> None:
        self._running.discard(seq)
        self._kv_reserved -= seq.kv_tokens
        seq.finished = True
        seq.deliver(None)

    def _tick(self) -> None:
        assert self._timer is not None
        config, heap = self._config, self._heap
        now = time.perf_counter() + self._timer.tolerance
        while heap and heap[0][0] <= now:
            at, _, seq = heapq.heappop(heap)
            if seq.finished:
                continue  # cancelled while its step was pending
            tokens = min(config.tokens_per_chunk, seq.output_tokens - seq.emitted)
            seq.emitted += tokens
            self.generated_tokens += tokens
            seq.due = at
            seq.deliver(tokens)
            if seq.emitted >= seq.output_tokens:
                self._finish(seq)
                self._admit(at)
            else:
                step = config.itl * (1 + config.batch_slowdown * (len(self._running) - 1))
                heapq.heappush(heap, (at + step, next(self._order), seq))
        self._arm()

    def _arm(self) -> None:
        assert self._timer is not None
        while self._heap and self._heap[0][2].finished:
            heapq.heappop(self._heap)
        if self._heap:
            self._timer.arm(self._heap[0][0])
