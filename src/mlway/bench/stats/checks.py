"""The warnings a point's summary carries: what makes its numbers misleading, and why."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from mlway.bench.records import RequestRecord
from mlway.bench.summary import Distribution, LoadSpec
from mlway.core.units import format_duration

SEND_RATE_SHORTFALL = 0.95
"""Warn when the achieved send rate is below this share of the target."""
ERROR_SHARE = 0.05
"""Warn when more than this share of (non-cancelled) requests failed."""
TAIL_SAMPLES = 100
"""Below this many successful requests, p99 rests on interpolation rather than real samples."""
_QUEUE_SHARE = 0.25
"""A median client wait above this share of the inter-arrival interval explains a rate shortfall."""


@dataclass(slots=True)
class PointFacts:
    """What :func:`point_warnings` needs, gathered while summarizing."""

    load: LoadSpec
    target_rate: float | None
    measured: int = 0
    ok: int = 0
    warmup: int = 0
    untokenized: int = 0
    length_checked: int = 0
    length_mismatch: int = 0
    length_example: tuple[int, int] | None = None
    errors: Counter[str] = field(default_factory=Counter)
    send_rate: float | None = None
    schedule_rate: float | None = None
    metrics: dict[str, Distribution] = field(default_factory=dict)

    def check_length(self, record: RequestRecord, output_tokens: int) -> None:
        """Count a successful request whose counted length differs from the forced one.

        Only counts from the server's usage or a tokenizer are compared: a chunk may carry
        several tokens, so a chunk count proves nothing.
        """
        target = record.output_tokens_target
        if target is None or record.tokens_source not in ("usage", "tokenizer"):
            return
        self.length_checked += 1
        if output_tokens != target:
            self.length_mismatch += 1
            if self.length_example is None:
                self.length_example = (output_tokens, target)


def point_warnings(facts: PointFacts) -> list[str]:
    """Plain sentences, most important first; empty when the numbers can be taken at face value."""
    if facts.measured == 0:
        return [f"no measured requests (warm-up: {facts.warmup}): every metric is absent"]
    found: list[str | None] = []
    if facts.ok == 0:
        found.append(f"no request succeeded ({_kinds(facts.errors)}): latency and throughput are absent")
    else:
        found.append(_error_share(facts))
    found.append(_rate_shortfall(facts))
    if facts.length_mismatch:
        got, wanted = facts.length_example or (0, 0)
        found.append(
            f"{facts.length_mismatch} of {facts.length_checked} requests returned a completion length "
            f"other than the forced output length (e.g. {got} tokens instead of {wanted}): the server did "
            "not honour max_tokens/ignore_eos, so TPOT and token rates are for a different workload"
        )
    if facts.untokenized:
        found.append(
            f"{facts.untokenized} successful requests have no output token count: TPOT, output token "
            "statistics and token rates leave them out"
        )
    if 0 < facts.ok < TAIL_SAMPLES:
        found.append(
            f"only {facts.ok} successful requests: p99 and p99.9 are interpolated, not observed; "
            f"measure at least {TAIL_SAMPLES} requests (1000 for p99.9) to trust the tail"
        )
    return [text for text in found if text]


def _kinds(errors: Counter[str]) -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in errors.most_common())


def _error_share(facts: PointFacts) -> str | None:
    cancelled = facts.errors["cancelled"]
    failed = facts.errors.total() - cancelled
    attempted = facts.measured - cancelled
    if attempted <= 0 or failed / attempted <= ERROR_SHARE:
        return None
    failures = Counter({kind: n for kind, n in facts.errors.items() if kind != "cancelled"})
    return (
        f"{failed / attempted:.0%} of requests failed ({_kinds(failures)}): latency statistics "
        "describe only the successful ones"
    )


def _rate_shortfall(facts: PointFacts) -> str | None:
    target, sent = facts.target_rate, facts.send_rate
    if target is None or sent is None or sent >= SEND_RATE_SHORTFALL * target:
        return None
    head = f"achieved send rate {sent:.3g} req/s is {sent / target:.0%} of the target {target:g} req/s"
    queue = facts.metrics.get("queue_time")
    wait = queue.p50 if queue is not None else 0.0
    if wait > _QUEUE_SHARE / target:
        waited = f"{format_duration(wait)} (p50 queue_time)"
        cap = facts.load.max_concurrency
        if cap is not None:
            return (
                f"{head}: the server fell behind: requests waited {waited} for one of the "
                f"max_concurrency={cap} in-flight slots; the server cannot sustain this rate (or raise the cap)"
            )
        return (
            f"{head}: the client fell behind: with no in-flight cap, requests still waited {waited} "
            "before being sent, so the client (CPU or connection pool) could not keep up; lower the rate "
            "or give the client more CPU"
        )
    scheduled = facts.schedule_rate
    if scheduled is not None and scheduled < SEND_RATE_SHORTFALL * target:
        spread = ""
        if facts.load.arrival in ("poisson", "gamma") and facts.measured > 1:
            spread = (
                f"; random arrivals over {facts.measured} requests vary by about "
                f"±{1 / math.sqrt(facts.measured):.0%}, run more requests for a closer rate"
            )
        return f"{head}: requests were sent on time, but the arrival schedule ran at {scheduled:.3g} req/s{spread}"
    return f"{head}: requests left the client late although queue_time is short; check the client's CPU"
