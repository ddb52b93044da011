"""The console report of a run: one table row per load point, warnings, SLO, formulas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlway.bench.report.format import (
    LATENCIES,
    TITLES,
    load_text,
    number,
    percent,
    seconds_unit,
    server_text,
)
from mlway.bench.stats import FORMULAS
from mlway.bench.summary import Distribution, PointSummary, RunResult, SearchSummary
from mlway.core.units import format_duration

FOOTNOTE_METRICS = ("ttft", "tpot", "itl", "e2e", "request_rate", "output_token_rate", "goodput", "statistics")
"""The formulas printed under the table: those of its columns."""


def points_table(points: Sequence[PointSummary], *, title: str | None = None) -> Table:
    """TTFT/TPOT/ITL/E2E p50/p95/p99, req/s, output tok/s, goodput and errors: a row per point.

    Each point's row holds three lines, p50, p95 and p99, so the table fits a 100-column terminal.
    """
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("load", no_wrap=True)
    table.add_column("ok/req", justify="right", no_wrap=True)
    table.add_column("req/s", justify="right")
    table.add_column("out\ntok/s", justify="right")
    table.add_column("", style="dim", no_wrap=True)
    units: dict[str, float] = {}
    for metric in LATENCIES:
        unit, scale = seconds_unit(p.metrics[metric].p99 for p in points if metric in p.metrics)
        units[metric] = scale
        table.add_column(f"{TITLES[metric]}\n{unit}", justify="right", no_wrap=True)
    with_slo = any(p.slo is not None for p in points)
    if with_slo:
        table.add_column("SLO", justify="center")
        table.add_column("goodput\nreq/s", justify="right")
    table.add_column("errors", justify="right")
    for point in points:
        cells: list[str | Text] = [
            load_text(point.load),
            f"{point.ok}/{point.requests}",
            number(point.request_rate),
            number(point.output_token_rate),
            "\n".join(_STATS),
            *(_stacked(point.metrics.get(m), units[m]) for m in LATENCIES),
        ]
        if with_slo:
            slo = point.slo
            if slo is None:
                cells += ["-", "-"]
            else:
                mark = Text("pass", style="green") if slo.passed else Text("fail", style="red")
                cells += [mark, f"{number(slo.goodput)}\n{percent(slo.attainment)}"]
        failed = sum(point.errors.values())
        cells.append(Text(str(failed), style="red" if failed else ""))
        table.add_row(*cells, end_section=True)
    return table


_STATS = ("p50", "p95", "p99")


def _stacked(dist: Distribution | None, scale: float) -> str:
    if dist is None:
        return "-"
    return "\n".join(number(getattr(dist, name) * scale) for name in _STATS)


def render_run(console: Console, run: RunResult, *, formulas: bool = True) -> None:
    """Print a run: its table, every point's warnings, the SLO and (by default) the formulas."""
    config = run.config
    details = [str(config[key]) for key in ("model", "url", "endpoint") if config.get(key)]
    title = f"{run.name}" + (f"  ({', '.join(details)})" if details else "")
    console.print(points_table(run.points, title=title))
    slos = [p.slo for p in run.points if p.slo is not None]
    if slos:
        limits = ", ".join(f"{key} <= {format_duration(value)}" for key, value in slos[0].limits.items())
        console.print(f"SLO: {limits}; goodput: requests meeting it per second, with their share below")
    for point in run.points:
        for warning in point.warnings:
            console.print(Text(f"warning: {point.label}: {warning}", style="yellow"))
        gauges = server_text(point)
        if gauges:
            console.print(Text(f"server: {point.label}: {gauges}"))
    if formulas:
        render_formulas(console, run.formulas or FORMULAS)


def render_formulas(console: Console, formulas: Mapping[str, str], keys: Sequence[str] = FOOTNOTE_METRICS) -> None:
    """The footnote under a table: how each column is computed."""
    for key in keys:
        if key in formulas:
            console.print(Text(f"{key}: {formulas[key]}", style="dim"))


def render_search(console: Console, search: SearchSummary | None) -> None:
    """The trials of an SLO search and its answer."""
    if search is None:
        return
    unit = "users" if search.mode == "concurrency" else "req/s"
    table = Table(title=f"SLO search: {search.slo}", title_justify="left", header_style="bold")
    table.add_column(f"load ({unit})", justify="right")
    table.add_column("result", justify="center")
    table.add_column("binding limit")
    for trial in search.trials:
        verdict = Text("pass", style="green") if trial.passed else Text("fail", style="red")
        table.add_row(f"{trial.load:g}", verdict, trial.binding or "")
    console.print(table)
    high = search.bracket[1]
    if search.answer is None:
        lowest = f" (the lowest tried, {high:g} {unit}, failed)" if high is not None else ""
        console.print(Text(f"no load met the SLO{lowest}", style="bold red"))
        return
    above = f"; {high:g} {unit} failed" if high is not None else "; no higher load failed within the trials"
    console.print(Text(f"highest load meeting the SLO: {search.answer:g} {unit}{above}", style="bold green"))
