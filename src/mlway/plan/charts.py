"""Charts of a plan (matplotlib, Agg backend): memory breakdown and cost vs latency; an HTML page."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

from mlway.core.errors import DependencyMissingError
from mlway.plan.gpus import GIB
from mlway.plan.recommendation import Plan

_PARTS = (("weights", "#4c72b0"), ("activation_peak", "#dd8452"), ("non_torch", "#937860"),
          ("kv_cache", "#55a868"))  # fmt: skip


def _pyplot() -> Any:
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional extra, imported when a chart is asked for

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise DependencyMissingError.for_extra("matplotlib", "plan") from exc
    return plt


def _labels(plan: Plan, top: int) -> list[str]:
    return [f"#{o.rank} {o.gpu} TP{o.tp}x{o.replicas} {o.quant}" for o in plan.options[:top]]


def memory_figure(plan: Plan, top: int = 8) -> Any:
    """Stacked bars: where one GPU's memory goes, for the top options."""
    plt = _pyplot()
    options = plan.options[:top]
    fig, ax = plt.subplots(figsize=(9, 0.6 * max(len(options), 1) + 1.5))
    labels = _labels(plan, top)
    left = [0.0] * len(options)
    for part, color in _PARTS:
        sizes = [getattr(o.memory, part) / GIB for o in options]
        ax.barh(labels, sizes, left=left, color=color, label=part.replace("_", " "))
        left = [a + b for a, b in zip(left, sizes, strict=True)]
    rest = [o.memory.total / GIB - used for o, used in zip(options, left, strict=True)]
    ax.barh(labels, rest, left=left, color="#dddddd", label="outside the budget")
    ax.invert_yaxis()
    ax.set_xlabel("GiB per GPU")
    ax.set_title(f"{plan.model}: memory of one GPU per option")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=5, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def cost_latency_figure(plan: Plan, top: int = 20) -> Any:
    """Scatter: cost per hour vs TTFT p95 (with its band), one point per option."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    options = plan.options[:top]
    for index, o in enumerate(options):
        band = o.ttft["p95"]
        ax.errorbar(band.mid, o.cost_per_hour, xerr=[[band.mid - band.low], [band.high - band.mid]], fmt="o",
                    color="#c44e52" if o.marginal else "#4c72b0", capsize=3)  # fmt: skip
        if index < 8:  # label the cheapest; the rest are in the table
            ax.annotate(f"#{o.rank} {o.gpu} TP{o.tp}x{o.replicas} {o.quant}", (band.mid, o.cost_per_hour),
                        fontsize=7, xytext=(4, 4 + 6 * (index % 2)), textcoords="offset points")  # fmt: skip
    for target in plan.workload.slo:
        if target.metric == "ttft" and target.percentile == "p95":
            ax.axvline(target.seconds, color="#c44e52", linestyle="--", label=f"SLO {target}")
    ax.set_xlabel("TTFT p95 (s)")
    ax.set_ylabel("USD per hour")
    ax.set_title(f"{plan.model}: cost vs latency of the options that meet the SLO")
    if any(t.metric == "ttft" for t in plan.workload.slo):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    return buffer.getvalue()


def write_png(plan: Plan, path: Path) -> list[Path]:
    """Two PNG files: ``<path>`` (cost vs latency) and ``<stem>-memory.png``."""
    if not plan.options:
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    memory_path = path.with_name(f"{path.stem}-memory{path.suffix or '.png'}")
    path.write_bytes(_png(cost_latency_figure(plan)))
    memory_path.write_bytes(_png(memory_figure(plan)))
    return [path, memory_path]


def _img(data: bytes) -> str:
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def write_html(plan: Plan, path: Path) -> Path:
    """A self-contained page: charts, the options, the rejected ones with their reasons."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{o.rank}</td><td>{esc(o.gpu)}</td><td>{o.tp} x {o.replicas}</td><td>{esc(o.quant)}</td>"
        f"<td>{o.cost_per_hour:,.2f}</td>"
        f"<td>{'-' if math.isinf(o.cost_per_million_tokens) else f'{o.cost_per_million_tokens:,.3f}'}</td>"
        f"<td>{o.ttft['p95'].mid * 1000:,.0f} ms</td><td>{o.tpot['p95'].mid * 1000:,.1f} ms</td>"
        f"<td>{o.output_tokens_per_s.mid:,.0f}</td><td><code>{esc(o.engine_command)}</code></td></tr>"
        for o in plan.options
    )
    rejected = "".join(
        f"<tr><td>{esc(r.gpu)}</td><td>{r.tp}</td><td>{esc(r.quant)}</td><td>{esc(r.kind)}</td>"
        f"<td>{esc(r.reason)}</td></tr>"
        for r in plan.rejected
    )
    charts = _img(_png(cost_latency_figure(plan))) + _img(_png(memory_figure(plan))) if plan.options else ""
    diagnosis = f"<pre>{esc(plan.diagnosis)}</pre>" if plan.diagnosis else ""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>mlway plan: {esc(plan.model)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 6px;font-size:13px}}img{{max-width:100%}}</style></head><body>
<h1>mlway plan: {esc(plan.model)} ({plan.params_b:.2f} B) on {esc(plan.engine)}</h1>
<p>{esc(plan.workload.describe())}; SLO: {esc(", ".join(str(t) for t in plan.workload.slo) or "none")}</p>
{diagnosis}{charts}
<h2>Options</h2><table><tr><th>#</th><th>GPU</th><th>TP x replicas</th><th>quant</th><th>$/h</th>
<th>$/M tok</th><th>TTFT p95</th><th>TPOT p95</th><th>tok/s</th><th>engine</th></tr>{rows}</table>
<h2>Rejected</h2><table><tr><th>GPU</th><th>TP</th><th>quant</th><th>binding</th><th>why</th></tr>{rejected}</table>
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
