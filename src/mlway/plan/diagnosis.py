"""When nothing meets the SLO: which constraint binds, and what would satisfy it."""

from __future__ import annotations

from collections import Counter

from mlway.plan.recommendation import Rejected
from mlway.plan.workload import Workload


def _name(r: Rejected) -> str:
    return f"{r.gpu} TP{r.tp} {r.quant}"


def diagnose(workload: Workload, rejected: list[Rejected]) -> str:
    """A short explanation naming the binding constraint and the changes that would meet it."""
    relevant = [r for r in rejected if r.kind != "unsupported"]
    if not relevant:
        reasons = "; ".join(sorted({r.reason for r in rejected})[:3])
        return f"no supported GPU x TP x quantization combination: {reasons}"
    counts = Counter(r.kind for r in relevant)
    lines = [
        "no option meets every constraint. Binding: "
        + ", ".join(f"{kind} ({n} of {len(relevant)})" for kind, n in counts.most_common())
    ]
    no_fit = [r for r in relevant if r.kind == "does not fit"]
    if no_fit and len(no_fit) == len(relevant):
        best = max(no_fit, key=lambda r: r.max_context or 0)
        if best.max_context:
            lines.append(
                f"- shorter context: the longest that fits is {best.max_context} tokens on {_name(best)} "
                f"(asked {workload.context})"
            )
        tried = {r.quant for r in rejected}
        fewer = [text for scheme, text in (("fp8", "fp8 halves the weights"), ("awq-int4", "awq-int4 quarters them"))
                 if scheme not in tried]  # fmt: skip
        lines.append("- fewer bytes: " + "; ".join([*fewer, "--kv-cache-dtype fp8 halves the KV cache"]))
        widest = max(r.tp for r in rejected)
        more_tp = f"more GPUs per replica (--tp {min(widest * 2, 8)}), " if widest < 8 else ""
        lines.append(f"- {more_tp}a GPU with more memory (h100-sxm 80 GB, h200-sxm 141 GB, mi300x 192 GB)")
    for kind, metric in (("TTFT", "ttft"), ("TPOT", "tpot"), ("E2E", "e2e")):
        failing = [r for r in relevant if r.kind == kind and r.value is not None and r.limit is not None]
        if not failing:
            continue
        best = min(failing, key=lambda r: r.value or 0.0)
        value, limit = best.value or 0.0, best.limit or 0.0
        lines.append(
            f"- {kind}: the fastest option, {_name(best)}, needs {value:.3g} s for one request alone "
            f"(limit {limit:g} s): relax {metric}_p* to >= {value * 1.05:.3g} s"
        )
        if kind == "TTFT":
            shorter = int(workload.input_tokens.mean * limit / value)
            lines.append(f"  or keep prompts under ~{shorter} tokens, or use a GPU with more FLOP/s, fp8, more TP")
        elif kind == "TPOT":
            lines.append("  or read fewer bytes per token: fp8 / awq-int4 weights, more TP, a GPU with more bandwidth")
    cost = [r for r in relevant if r.kind == "cost" and r.replicas]
    if cost:
        cheapest = min(cost, key=lambda r: (r.replicas or 0) * r.tp)
        lines.append(
            f"- cost: the smallest option that meets the SLO is {_name(cheapest)} x {cheapest.replicas} replicas "
            f"({(cheapest.replicas or 0) * cheapest.tp} GPUs): raise --max-gpus or --budget, or add replicas"
        )
    return "\n".join(lines)
