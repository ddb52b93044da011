"""What happens at a load: continuous batching in steady state, queueing, and saturation.

Steady state with ``n`` sequences in the engine: a request needs ``P`` prompt tokens and ``O``
output tokens, i.e. its prefill steps plus ``O - 1`` decode steps (the first token comes out of
the prefill). Averaged over time, every step then carries ``n (O - 1) / S`` decoding sequences
and ``n P / S`` prompt tokens, where ``S`` is the number of steps a request lives. A step may hold
at most ``max_num_batched_tokens`` tokens, so when prompts arrive faster than the step budget
takes them, ``S`` grows: the request waits for prefill inside the engine. TPOT is the average step
time; TTFT is the prefill steps (at least the steps that carry the request's own prompt
chunks next to the running decodes) plus half a step of waiting for the running one; the engine
finishes ``n / E2E`` requests per second (Little's law: ``L = lambda W``).

Open loop (requests per second): the in-flight count solves ``n = lambda E2E(n)``. When even the
largest batch the engine allows (``max_num_seqs`` and the KV cache) cannot keep up, the system
saturates: throughput stays at its capacity ``mu`` and the queue grows by ``lambda - mu`` requests
per second, so during a test of ``T`` seconds the waiting time climbs to ``(lambda - mu) T / mu``.
Below saturation, Poisson bursts add two waits: for the prefill compute (M/D/1 with the prompt's
prefill time as service) and, near the batch limit, for a free sequence slot (M/M/c, Erlang C in
the Halfin-Whitt approximation).
The number of running sequences fluctuates like a Poisson count, so a TPOT percentile is the step
time at ``n + z sqrt(n)`` sequences.

Closed loop (users): with ``U`` users and think time ``Z`` the engine holds ``U E2E / (E2E + Z)``
sequences; past the batch limit the extra users queue and TTFT grows with the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlway.plan.perf import StepModel
from mlway.plan.workload import Percentile

PERCENTILES: tuple[Percentile, ...] = ("p50", "p95", "p99")
_Z = {"p50": 0.0, "p95": 1.645, "p99": 2.326}
_Q = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Steady:
    """Averages of the steady state with ``n`` sequences in the engine."""

    n: float
    step: float
    ttft: float
    e2e: float
    request_rate: float
    output_rate: float
    prefill_bound: bool
    prefill: float
    """Time the request's own prompt occupies the engine (its chunks, next to the running decodes)."""


def steady(sm: StepModel, prompt: float, output: float, n: float, chunk: int) -> Steady:
    """The steady state of ``n`` sequences each needing ``prompt`` + ``output`` tokens."""
    decode_steps = max(output - 1.0, 0.0)
    own_steps = 1.0 if not sm.engine.chunked_prefill else max(1.0, math.ceil(prompt / max(chunk, 1)))
    steps = decode_steps + own_steps
    for _ in range(8):
        room = max(chunk - n * decode_steps / steps, 1.0)
        new_steps = max(decode_steps + own_steps, n * prompt / room)
        if abs(new_steps - steps) <= 1e-6 * steps:
            break
        steps = new_steps
    prefill_bound = steps > decode_steps + own_steps + 1e-9
    in_prefill = n * (steps - decode_steps) / steps
    context = prompt + output / 2
    decoding = n * decode_steps / steps
    step = sm.step_time(
        decoding, context, prefill=n * prompt / steps, prefill_context=prompt / 2,
        prefill_seqs=max(in_prefill, 1.0), finishing_prefills=n / steps,
    )  # fmt: skip
    own = sm.prefill_time(prompt, chunk, decoding=max(decoding - 1, 0.0) if decoding else 0.0, context=context)
    ttft = max((steps - decode_steps) * step, own) + step / 2 + sm.factors.request_overhead_s
    e2e = ttft + decode_steps * step
    rate = n / e2e if e2e > 0 else 0.0
    return Steady(n, step, ttft, e2e, rate, rate * max(output, 0.0), prefill_bound, own)


@dataclass
class LoadResult:
    """Predicted behaviour of one replica at one load."""

    saturated: bool
    concurrency: float
    batch_limit: int
    capacity_rps: float
    request_rate: float
    output_rate: float
    utilization: float
    ttft: dict[str, float] = field(default_factory=dict)
    tpot: dict[str, float] = field(default_factory=dict)
    e2e: dict[str, float] = field(default_factory=dict)
    queue_wait: dict[str, float] = field(default_factory=dict)
    explanation: str = ""

    def value(self, metric: str, percentile: str) -> float:
        return float(getattr(self, metric)[percentile])


@dataclass(frozen=True)
class Request:
    """Request shape: mean prompt/output tokens and the prompt/output at each percentile."""

    prompt: float
    output: float
    prompt_q: dict[str, float]
    output_q: dict[str, float]


class Replica:
    """One engine replica (a TP group) serving one request shape."""

    def __init__(self, sm: StepModel, req: Request, batch_limit: int, chunk: int) -> None:
        self.sm, self.req, self.batch_limit, self.chunk = sm, req, max(batch_limit, 1), chunk
        self._cache: dict[tuple[float, float], Steady] = {}
        self.full = self.state(float(self.batch_limit))
        self.capacity = self.full.request_rate

    def state(self, n: float, prompt: float | None = None) -> Steady:
        key = (max(n, 1e-3), self.req.prompt if prompt is None else prompt)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = steady(self.sm, key[1], self.req.output, key[0], self.chunk)
        return found

    def _fill(self, result: LoadResult, n: float, spread: bool) -> None:
        req = self.req
        for pct in PERCENTILES:
            n_q = min(float(self.batch_limit), n + _Z[pct] * math.sqrt(n)) if spread else n
            tpot = self.state(max(n_q, 1.0)).step if req.output > 1 else 0.0
            own = self.state(max(n, 1.0), req.prompt_q[pct])
            result.ttft[pct] = own.ttft + result.queue_wait.get(pct, 0.0)
            result.tpot[pct] = tpot
            result.e2e[pct] = result.ttft[pct] + max(req.output_q[pct] - 1, 0.0) * tpot

    def at_concurrency(self, n: float) -> LoadResult:
        """Open loop with ``n`` requests in flight on average (below saturation)."""
        state = self.state(n)
        rate = state.request_rate
        rho = min(rate / self.capacity, 1.0) if self.capacity else 1.0
        result = LoadResult(False, n, self.batch_limit, self.capacity, rate, state.output_rate, rho)
        rho_prefill = rate * state.prefill
        slack = self.batch_limit / state.e2e - rate
        result.queue_wait = {
            p: _md1_wait(rho_prefill, state.prefill, _Q[p]) + _slot_wait(n, self.batch_limit, slack, _Q[p])
            for p in PERCENTILES
        }
        self._fill(result, n, spread=True)
        result.explanation = (
            f"{n:.1f} requests in flight on average (Little's law: {rate:.3g} req/s x {state.e2e:.2f} s); "
            f"{rho:.0%} of the {self.capacity:.3g} req/s this replica can finish"
        )
        return result

    def at_rate(self, rate: float, duration: float) -> LoadResult:
        """Poisson arrivals of ``rate`` requests per second, observed over a test of ``duration`` s."""
        if rate >= self.capacity:
            return self._saturated(rate, duration)
        low, high = 0.0, float(self.batch_limit)
        for _ in range(40):
            mid = (low + high) / 2
            if rate * self.state(mid).e2e > mid:
                low = mid
            else:
                high = mid
        return self.at_concurrency(max(high, 1e-3))

    def _saturated(self, rate: float, duration: float) -> LoadResult:
        cap, backlog = self.capacity, rate - self.capacity
        result = LoadResult(
            True, float(self.batch_limit), self.batch_limit, cap, cap, self.full.output_rate, rate / cap
        )
        result.queue_wait = {p: backlog * _Q[p] * duration / cap for p in PERCENTILES}
        self._fill(result, float(self.batch_limit), spread=False)
        result.explanation = (
            f"saturated: {rate:.3g} req/s arrive but the engine finishes at most {cap:.3g} req/s "
            f"(batch {self.batch_limit}); the queue grows by {backlog:.3g} req/s, so after {duration:.0f} s "
            f"a new request waits ~{backlog * duration / cap:.1f} s before its first token"
        )
        return result

    def at_users(self, users: float, think_time: float = 0.0) -> LoadResult:
        """``users`` closed-loop users, each sending again ``think_time`` s after its answer."""
        n = users
        for _ in range(20 if think_time > 0 else 0):
            e2e = self.state(max(min(n, self.batch_limit), 1.0)).e2e
            previous, n = n, users * e2e / (e2e + think_time)
            if abs(previous - n) < 1e-3:
                break
        if n <= self.batch_limit:
            state = self.state(max(n, 1.0))
            result = LoadResult(False, n, self.batch_limit, self.capacity, state.request_rate,
                                state.output_rate, n / self.batch_limit)  # fmt: skip
            result.queue_wait = dict.fromkeys(PERCENTILES, 0.0)
            self._fill(result, max(n, 1.0), spread=False)
            result.explanation = f"all {users:g} users fit in one batch ({n:.0f} of {self.batch_limit} sequences)"
            return result
        cap = self.capacity
        wait = max(users / cap - think_time - self.full.e2e, 0.0)
        result = LoadResult(True, float(self.batch_limit), self.batch_limit, cap, cap, self.full.output_rate,
                            n / self.batch_limit)  # fmt: skip
        result.queue_wait = dict.fromkeys(PERCENTILES, wait)
        self._fill(result, float(self.batch_limit), spread=False)
        result.explanation = (
            f"{users:g} users but at most {self.batch_limit} sequences run at once: throughput stays at "
            f"{cap:.3g} req/s and the other users queue ~{wait:.2f} s before their first token"
        )
        return result


def _md1_wait(rho: float, service: float, q: float) -> float:
    """Quantile of the wait for the prefill compute (M/D/1): mean rho s / 2(1 - rho), and given a wait,
    exponential with mean W / rho (the usual M/G/1 tail approximation)."""
    if rho >= 1:
        return math.inf
    if rho <= 1 - q:
        return 0.0
    mean = rho * service / (2 * (1 - rho))
    return mean / rho * math.log(rho / (1 - q))


def _slot_wait(offered: float, slots: int, slack: float, q: float) -> float:
    """Quantile of the wait for a free batch slot (M/M/c, Halfin-Whitt approximation of Erlang C)."""
    if slack <= 0:
        return math.inf
    beta = (slots - offered) / math.sqrt(max(offered, 1e-9))
    if beta > 6:
        return 0.0
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    waiting = 1 / (1 + beta * cdf / phi)
    if waiting <= 1 - q:
        return 0.0
    return math.log(waiting / (1 - q)) / slack
