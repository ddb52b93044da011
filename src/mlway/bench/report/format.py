"""Small formatting rules every bench report shares: how a load and a latency are written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mlway.bench.summary import Distribution, LoadSpec, PointSummary

LATENCIES = ("ttft", "tpot", "itl", "e2e")
"""The latency metrics reports show, in the order they are shown."""
TITLES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2e": "E2E", "queue_time": "queue"}


def load_text(load: LoadSpec) -> str:
    """``10 users``, ``20 req/s poisson``, ``20 req/s poisson <=64``."""
    if load.mode == "concurrency":
        return f"{load.concurrency} user" + ("s" if load.concurrency != 1 else "")
    text = f"{load.rate:g} req/s"
    if load.arrival:
        text += f" {load.arrival}"
    if load.arrival == "gamma" and load.burstiness is not None:
        text += f"({load.burstiness:g})"
    if load.max_concurrency is not None:
        text += f" <={load.max_concurrency}"
    return text


def load_value(load: LoadSpec) -> float:
    """The load as one number: users (closed loop) or requests per second (open loop)."""
    value = load.concurrency if load.mode == "concurrency" else load.rate
    return float(value or 0.0)


def load_axis(mode: str) -> str:
    return "concurrent users" if mode == "concurrency" else "target rate (req/s)"


def by_mode(points: Iterable[PointSummary]) -> dict[str, list[PointSummary]]:
    """Points grouped by load mode (closed loop first), each group sorted by load."""
    groups: dict[str, list[PointSummary]] = {}
    for point in points:
        groups.setdefault(point.load.mode, []).append(point)
    return {
        mode: sorted(groups[mode], key=lambda p: load_value(p.load))
        for mode in ("concurrency", "rate")
        if mode in groups
    }


def seconds_unit(values: Iterable[float]) -> tuple[str, float]:
    """``("ms", 1000)`` unless some value reaches 10 s, then ``("s", 1)``."""
    return ("s", 1.0) if max(values, default=0.0) >= 10.0 else ("ms", 1000.0)


def number(value: float, digits: int = 3) -> str:
    """A compact number: 3 significant digits, no exponent below a million."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def percentiles_text(dist: Distribution | None, scale: float, names: Sequence[str] = ("p50", "p95", "p99")) -> str:
    """``"52.1 / 60.3 / 71.0"`` in the column's unit; ``"-"`` without data."""
    if dist is None:
        return "-"
    return " / ".join(number(getattr(dist, name) * scale) for name in names)


def errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items(), key=lambda kv: -kv[1]))


def percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def server_text(point: PointSummary) -> str:
    """``running mean 31 (max 32), waiting max 12, KV cache max 94%`` from the sampled gauges."""
    gauges = point.server_metrics
    parts = []
    if (running := gauges.get("running")) is not None:
        parts.append(f"running mean {running.mean:.0f} (max {running.max:.0f})")
    if (waiting := gauges.get("waiting")) is not None:
        parts.append(f"waiting mean {waiting.mean:.0f} (max {waiting.max:.0f})")
    if (kv := gauges.get("kv_cache_usage")) is not None:
        parts.append(f"KV cache max {kv_percent(kv.max)}")
    return ", ".join(parts)


def kv_percent(value: float) -> str:
    """vLLM reports KV usage as a 0-1 fraction (despite the name ..._perc); some servers as 0-100."""
    return f"{value:.0%}" if value <= 1.0 else f"{value:.0f}%"
