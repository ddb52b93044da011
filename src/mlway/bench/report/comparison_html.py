"""The HTML page of ``mlway bench compare``: the side-by-side table and every run's curves overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlway.bench.report import page
from mlway.bench.report.format import by_mode, load_axis, load_text, load_value, seconds_unit
from mlway.bench.report.html import point_ttfts
from mlway.bench.report.plots import Series, cdf_plot, line_plot
from mlway.bench.stats import FORMULAS
from mlway.bench.summary import PointSummary

if TYPE_CHECKING:
    from mlway.bench.compare import ComparedRun, Comparison


def render_comparison_html(comparison: Comparison) -> str:
    from mlway.bench.compare import best_cells, comparison_cells  # noqa: PLC0415 - compare imports us lazily

    headers, groups = comparison_cells(comparison)
    rows: list[list[str]] = []
    for _, cells in groups:
        best = best_cells(headers, cells)
        rows += [[cell + (" *" if (r, c) in best else "") for c, cell in enumerate(row)] for r, row in enumerate(cells)]
    names = ", ".join(c.name for c in comparison.runs)
    body = [
        page.section(
            "Side by side",
            page.table(headers, rows),
            page.paragraph("* marks the best value at each load.", "muted"),
            page.bullet_list(comparison.notes, "warn") if comparison.notes else "",
        )
    ]
    modes = sorted({m for c in comparison.runs for m in by_mode(c.run.points)}, key=lambda m: m != "concurrency")
    for mode in modes:
        runs = [(c, by_mode(c.run.points).get(mode, [])) for c in comparison.runs]
        heading = "Overlaid curves" + (" (open loop)" if mode == "rate" else "")
        body.append(page.section(heading, page.figures(_plots(runs, mode))))
    for compared in comparison.runs:
        run = compared.run
        body.append(
            page.section(
                f"Run {compared.name}",
                page.paragraph(f"{compared.path} · started {run.started_at}", "muted"),
                page.json_block({"config": run.config, "environment": run.environment}),
            )
        )
    body.append(page.section("Formulas", page.definitions(comparison.runs[0].run.formulas or FORMULAS)))
    return page.page(f"mlway bench compare: {names}", body)


def _plots(runs: Sequence[tuple[ComparedRun, list[PointSummary]]], mode: str) -> list[tuple[str, str]]:
    axis = load_axis(mode)
    plots = []
    for metric, title in (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e", "E2E latency")):
        unit, scale = seconds_unit(p.metrics[metric].p95 for _, points in runs for p in points if metric in p.metrics)
        series: list[Series] = []
        for index, (compared, points) in enumerate(runs):
            measured = [p for p in points if metric in p.metrics]
            xs = [load_value(p.load) for p in measured]
            color = f"C{index % 10}"
            series.append(Series(compared.name, xs, [p.metrics[metric].p95 * scale for p in measured], color=color))
            series.append(
                Series(
                    f"_{compared.name} p50",
                    xs,
                    [p.metrics[metric].p50 * scale for p in measured],
                    dashed=True,
                    color=color,
                )
            )
        caption = f"{title} vs load (p95 solid, p50 dashed)"
        plots.append((caption, line_plot(caption, axis, f"{title} ({unit})", series)))
    throughput = [
        Series(c.name, [load_value(p.load) for p in points], [p.output_token_rate for p in points], color=f"C{i % 10}")
        for i, (c, points) in enumerate(runs)
    ]
    plots.append(
        ("Output throughput vs load", line_plot("Output throughput vs load", axis, "output tokens/s", throughput))
    )
    unit, scale = seconds_unit(p.metrics["e2e"].p95 for _, points in runs for p in points if "e2e" in p.metrics)
    tradeoff = []
    for index, (compared, points) in enumerate(runs):
        measured = [p for p in points if "e2e" in p.metrics]
        xs, ys = [p.output_token_rate for p in measured], [p.metrics["e2e"].p95 * scale for p in measured]
        notes = [load_text(p.load) for p in measured]
        tradeoff.append(Series(compared.name, xs, ys, notes=notes, color=f"C{index % 10}"))
    plots.append(
        ("Throughput vs latency", line_plot("Throughput vs latency", "output tokens/s", f"E2E p95 ({unit})", tradeoff))
    )
    cdf = _shared_load_cdf(runs)
    if cdf is not None:
        plots.append(cdf)
    return plots


def _shared_load_cdf(runs: Sequence[tuple[ComparedRun, list[PointSummary]]]) -> tuple[str, str] | None:
    """The TTFT CDF of every run at the highest load they all measured."""
    shared = set.intersection(*({load_text(p.load) for p in points} for _, points in runs)) if runs else set()
    if not shared:
        return None
    top = max(shared, key=lambda text: next(load_value(p.load) for p in runs[0][1] if load_text(p.load) == text))
    curves = []
    for compared, points in runs:
        point = next(p for p in points if load_text(p.load) == top)
        values = point_ttfts(compared.path if compared.path.is_dir() else compared.path.parent, point)
        if values.size:
            curves.append((compared.name, values))
    if not curves:
        return None
    unit, scale = seconds_unit(float(v.max()) for _, v in curves)
    title = f"TTFT distribution at {top}"
    return title, cdf_plot(title, f"TTFT ({unit})", [(name, v * scale) for name, v in curves])
