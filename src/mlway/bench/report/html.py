"""The HTML report of one run: tables, plots (inline SVG), formulas, config and environment.

Plots: TTFT and TPOT percentiles vs load, throughput vs latency, the TTFT CDF of each point (read
from its requests.jsonl, streaming), and the server's queue depth and KV-cache use over time when
they were sampled. The page has no script and no external resource: it reads offline.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlway.bench.records import read_records
from mlway.bench.report import page
from mlway.bench.report.files import REPORT_HTML, records_file
from mlway.bench.report.format import (
    LATENCIES,
    TITLES,
    by_mode,
    errors_text,
    load_axis,
    load_text,
    load_value,
    number,
    percent,
    percentiles_text,
    seconds_unit,
    server_text,
)
from mlway.bench.report.plots import Series, cdf_plot, line_plot, panels_plot
from mlway.bench.stats import FORMULAS
from mlway.bench.summary import PointSummary, RunResult, SearchSummary
from mlway.core.units import format_duration


def write_html_report(run: RunResult, directory: Path, path: Path | None = None) -> Path:
    """Write ``report.html`` (or ``path``) for the run stored in ``directory``; return its path."""
    target = path or directory / REPORT_HTML
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(render_html(run, directory), encoding="utf-8")
    partial.replace(target)
    return target


def render_html(run: RunResult, directory: Path) -> str:
    """The report page as text; ``directory`` is where the points' requests.jsonl files are."""
    started = f"started {run.started_at}" + (f", finished {run.finished_at}" if run.finished_at else "")
    body = [page.paragraph(started, "muted")]
    if run.interrupted:
        body.append(page.paragraph("The run was interrupted: these are partial results.", "warn"))
    body.append(page.section("Load points", points_html(run.points), *_notes(run.points)))
    for mode, points in by_mode(run.points).items():
        heading = "Latency and throughput vs load" + (" (open loop)" if mode == "rate" else "")
        body.append(page.section(heading, page.figures(load_plots(points, mode, directory))))
    if run.search is not None:
        body.append(page.section("SLO search", search_html(run.search)))
    body.append(page.section("Formulas", page.definitions(run.formulas or FORMULAS)))
    body.append(page.section("Configuration", page.json_block(run.config)))
    body.append(page.section("Environment", page.json_block(run.environment)))
    return page.page(f"mlway bench: {run.name}", body)


def points_html(points: Sequence[PointSummary]) -> str:
    """The run's table: one row per point."""
    scales = {m: seconds_unit(p.metrics[m].p99 for p in points if m in p.metrics) for m in LATENCIES}
    headers = ["load", "ok/req", "req/s", "out tok/s", "total tok/s"]
    headers += [f"{TITLES[m]} {scales[m][0]} p50/p95/p99" for m in LATENCIES]
    headers += ["queue p95 ms", "SLO", "goodput req/s", "attainment", "errors"]
    rows, classes = [], []
    for p in points:
        queue = p.metrics.get("queue_time")
        slo = p.slo
        rows.append(
            [
                load_text(p.load), f"{p.ok}/{p.requests}", number(p.request_rate),
                number(p.output_token_rate), number(p.total_token_rate),
                *(percentiles_text(p.metrics.get(m), scales[m][1]) for m in LATENCIES),
                number(queue.p95 * 1000) if queue else "-",
                "-" if slo is None else ("pass" if slo.passed else "fail"),
                "-" if slo is None else number(slo.goodput),
                "-" if slo is None else percent(slo.attainment),
                errors_text(p.errors) or "0",
            ]
        )  # fmt: skip
        classes.append("" if slo is None else ("pass" if slo.passed else "fail"))
    return page.table(headers, rows, classes=classes)


def _notes(points: Sequence[PointSummary]) -> list[str]:
    notes: list[str] = []
    warnings = [f"{p.label}: {w}" for p in points for w in p.warnings]
    if warnings:
        notes.append(page.bullet_list(warnings, "warn"))
    servers = [f"{p.label}: {text}" for p in points if (text := server_text(p))]
    if servers:
        notes.append(page.paragraph("Server gauges sampled during the run:"))
        notes.append(page.bullet_list(servers))
    slos = [p.slo for p in points if p.slo is not None]
    if slos:
        limits = ", ".join(f"{key} <= {format_duration(value)}" for key, value in slos[0].limits.items())
        notes.append(page.paragraph(f"SLO: {limits}."))
    return notes


def load_plots(points: Sequence[PointSummary], mode: str, directory: Path) -> list[tuple[str, str]]:
    """The plots of one load mode's points, as (caption, svg)."""
    xs = [load_value(p.load) for p in points]
    plots = []
    for metric in ("ttft", "tpot"):
        with_metric = [(x, p.metrics[metric]) for x, p in zip(xs, points, strict=True) if metric in p.metrics]
        if not with_metric:
            continue
        unit, scale = seconds_unit(d.p99 for _, d in with_metric)
        series = [
            Series(name, [x for x, _ in with_metric], [getattr(d, name) * scale for _, d in with_metric])
            for name in ("p50", "p95", "p99")
        ]
        title = f"{TITLES[metric]} percentiles vs load"
        plots.append((title, line_plot(title, load_axis(mode), f"{TITLES[metric]} ({unit})", series)))
    measured = [p for p in points if "e2e" in p.metrics]
    if measured:
        unit, scale = seconds_unit(p.metrics["e2e"].p95 for p in measured)
        throughput = [p.output_token_rate for p in measured]
        notes = [load_text(p.load) for p in measured]
        series = [
            Series("E2E p50", throughput, [p.metrics["e2e"].p50 * scale for p in measured], notes=notes),
            Series("E2E p95", throughput, [p.metrics["e2e"].p95 * scale for p in measured], dashed=True),
        ]
        title = "Throughput vs latency"
        plots.append((title, line_plot(title, "output tokens/s", f"latency ({unit})", series)))
    curves = [(load_text(p.load), values) for p in points if (values := point_ttfts(directory, p)).size]
    if curves:
        unit, scale = seconds_unit(float(values.max()) for _, values in curves)
        title = "TTFT distribution per load point"
        plots.append((title, cdf_plot(title, f"TTFT ({unit})", [(lab, v * scale) for lab, v in curves])))
    server = server_plot(points)
    if server is not None:
        plots.append(server)
    return plots


def point_ttfts(directory: Path, point: PointSummary) -> npt.NDArray[np.float64]:
    """The TTFT of every successful measured request of a point, streamed from its requests.jsonl."""
    path = records_file(directory, point)
    values = array("d")
    if path.is_file():
        for record in read_records(path):
            if not record.warmup and record.ok and record.first_content_at is not None:
                values.append(record.first_content_at - record.sent_at)
    return np.frombuffer(values, dtype=np.float64) if values else np.empty(0)


def server_plot(points: Sequence[PointSummary]) -> tuple[str, str] | None:
    """Queue depth (running, waiting) and KV-cache use over each point's time, when sampled."""
    sampled = [p for p in points if p.server_metric_samples]
    if not sampled:
        return None
    queue: list[Series] = []
    kv: list[Series] = []
    for index, p in enumerate(sampled):
        samples = p.server_metric_samples
        t0 = samples[0].get("t", 0.0)
        color = f"C{index % 10}"
        for key, dashed in (("running", False), ("waiting", True)):
            times, values = _series(samples, key, t0)
            if values:
                queue.append(Series(f"{load_text(p.load)} {key}", times, values, dashed=dashed, color=color))
        times, values = _series(samples, "kv_cache_usage", t0)
        if values:
            kv.append(Series(load_text(p.load), times, values, color=color))
    panels = [(label, series) for label, series in (("requests", queue), ("KV cache use", kv)) if series]
    if not panels:
        return None
    title = "Server queue depth and KV-cache use (running solid, waiting dashed)"
    return title, panels_plot(title, "seconds into the point", panels)


def _series(samples: Sequence[dict[str, float]], key: str, t0: float) -> tuple[list[float], list[float]]:
    rows = [(s.get("t", 0.0) - t0, s[key]) for s in samples if key in s]
    return [t for t, _ in rows], [v for _, v in rows]


def search_html(search: SearchSummary) -> str:
    unit = "users" if search.mode == "concurrency" else "req/s"
    rows = [[f"{t.load:g}", "pass" if t.passed else "fail", t.binding or ""] for t in search.trials]
    answer = "no load met the SLO" if search.answer is None else f"answer: {search.answer:g} {unit}"
    table = page.table([f"load ({unit})", "result", "binding limit"], rows)
    return page.paragraph(f"SLO {search.slo}: {answer}") + table
