"""One load point's summary from its request records, in one streaming pass.

Per-request values (TTFT, E2E, ...) are kept as 8-byte floats in ``array`` buffers; inter-token
gaps, which number requests x output tokens, go to a :class:`GapAccumulator`, never to Python floats.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from mlway.bench.records import RequestRecord
from mlway.bench.slo import SloSpec
from mlway.bench.stats.checks import PointFacts, point_warnings
from mlway.bench.stats.formulas import PERCENTILES
from mlway.bench.stats.gaps import GapAccumulator
from mlway.bench.summary import Distribution, LoadSpec, PointSummary

METRIC_ORDER = ("ttft", "tpot", "itl", "e2e", "queue_time", "input_tokens", "output_tokens")


def distribution(values: npt.ArrayLike) -> Distribution | None:
    """The statistics of the finite ``values`` (see FORMULAS["statistics"]); None when there are none."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]  # a NaN would be written to run.json as null and break reading it
    if data.size == 0:
        return None
    p50, p90, p95, p99, p999 = (float(q) for q in np.percentile(data, list(PERCENTILES.values())))
    return Distribution(
        count=int(data.size), mean=float(data.mean()), std=float(data.std()),
        min=float(data.min()), max=float(data.max()), p50=p50, p90=p90, p95=p95, p99=p99, p999=p999,
    )  # fmt: skip


class _Span:
    """The first and last of a stream of times, and how many there were."""

    __slots__ = ("count", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        self.first = math.inf
        self.last = -math.inf

    def add(self, t: float) -> None:
        if math.isfinite(t):
            self.count += 1
            self.first = min(self.first, t)
            self.last = max(self.last, t)

    @property
    def length(self) -> float:
        return self.last - self.first if self.count else 0.0

    def rate(self) -> float | None:
        """(count - 1) / span: the rate of evenly spaced events; None below two events."""
        span = self.length
        return (self.count - 1) / span if self.count >= 2 and span > 0 else None


class _Columns:
    """Per-request values of the successful requests, 8 bytes each."""

    def __init__(self) -> None:
        self.values = {name: array("d") for name in METRIC_ORDER if name != "itl"}

    def add(self, name: str, value: float) -> None:
        self.values[name].append(value)

    def total(self, name: str) -> float:
        column = self.values[name]
        return float(np.frombuffer(column, dtype=np.float64).sum()) if column else 0.0

    def distributions(self, gaps: GapAccumulator) -> dict[str, Distribution]:
        found: dict[str, Distribution | None] = {
            name: distribution(np.frombuffer(column, dtype=np.float64)) if column else None
            for name, column in self.values.items()
        }
        found["itl"] = gaps.distribution()
        return {name: dist for name in METRIC_ORDER if (dist := found[name]) is not None}


def summarize(
    records: Iterable[RequestRecord],
    *,
    load: LoadSpec,
    label: str,
    records_path: str,
    slo: SloSpec | None = None,
    target_rate: float | None = None,
    server_samples: Sequence[dict[str, float]] = (),
) -> PointSummary:
    """The :class:`PointSummary` of one point; warm-up records are counted, then skipped.

    ``target_rate`` defaults to ``load.rate`` for open loop; ``server_samples`` are the sampled
    Prometheus gauges (``{"t": s, "running": n, "waiting": n, "kv_cache_usage": f}``).
    """
    samples = [{key: value for key, value in sample.items() if math.isfinite(value)} for sample in server_samples]
    if target_rate is None and load.mode == "rate":
        target_rate = load.rate
    columns, gaps = _Columns(), GapAccumulator()
    errors: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    facts = PointFacts(load=load, target_rate=target_rate, errors=errors)
    sends, schedule, window = _Span(), _Span(), _Span()
    met = 0
    for record in records:
        if record.warmup:
            facts.warmup += 1
            continue
        facts.measured += 1
        sends.add(record.sent_at)
        schedule.add(record.scheduled_at)
        if record.error_kind == "cancelled":
            errors["cancelled"] += 1
            continue
        window.add(record.sent_at)
        window.add(record.end_at)
        if not record.ok:
            errors[record.error_kind or "other"] += 1
            continue
        facts.ok += 1
        sources[record.tokens_source] += 1
        met += _add_request(record, columns, gaps, facts, slo)

    duration = window.length
    facts.send_rate = sends.rate() if target_rate is not None else None
    facts.schedule_rate = schedule.rate()
    facts.metrics = metrics = columns.distributions(gaps)
    output_sum = columns.total("output_tokens")
    slo_result = None
    if slo is not None:
        measured = facts.measured - errors["cancelled"]
        slo_result = slo.evaluate(metrics, met=met, measured=measured, duration_s=duration)
    return PointSummary(
        label=label,
        load=load,
        requests=facts.measured,
        ok=facts.ok,
        warmup=facts.warmup,
        errors=dict(sorted(errors.items())),
        duration_s=duration,
        request_rate=_per_second(facts.ok, duration),
        output_token_rate=_per_second(output_sum, duration),
        total_token_rate=_per_second(output_sum + columns.total("input_tokens"), duration),
        target_rate=target_rate,
        send_rate=facts.send_rate,
        metrics=metrics,
        tokens_source=dict(sorted(sources.items())),
        slo=slo_result,
        server_metrics=_server_distributions(samples),
        server_metric_samples=samples,
        warnings=point_warnings(facts),
        records_path=records_path,
    )


def _add_request(
    record: RequestRecord, columns: _Columns, gaps: GapAccumulator, facts: PointFacts, slo: SloSpec | None
) -> bool:
    """Add one successful request's values; return whether it met the SLO."""
    sent = record.sent_at
    e2e = record.end_at - sent
    columns.add("e2e", e2e)
    columns.add("queue_time", sent - record.scheduled_at)
    ttft = None if record.first_content_at is None else record.first_content_at - sent
    if ttft is not None:
        columns.add("ttft", ttft)
    tpot = None
    out = record.completion_tokens
    if out is None:
        facts.untokenized += 1
    else:
        columns.add("output_tokens", out)
        facts.check_length(record, out)
        if ttft is not None and out >= 2:
            tpot = (e2e - ttft) / (out - 1)
            columns.add("tpot", tpot)
    prompt = record.prompt_tokens if record.prompt_tokens is not None else record.input_tokens_target
    if prompt is not None:
        columns.add("input_tokens", prompt)
    chunk_times = record.chunk_times
    request_gaps = np.diff(np.asarray(chunk_times, dtype=np.float64)) if len(chunk_times) >= 2 else None
    if request_gaps is not None:
        gaps.add(request_gaps)
    return slo is not None and slo.request_meets(ttft=ttft, tpot=tpot, e2e=e2e, gaps=request_gaps)


def _per_second(total: float, duration: float) -> float:
    return total / duration if duration > 0 else 0.0


def _server_distributions(samples: Sequence[dict[str, float]]) -> dict[str, Distribution]:
    keys = sorted({key for sample in samples for key in sample if key != "t"})
    found = {key: distribution([s[key] for s in samples if key in s]) for key in keys}
    return {key: dist for key, dist in found.items() if dist is not None}
