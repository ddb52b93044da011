"""``mlway bench compare``: several runs side by side, at each load they share.

The table is the one from the mission (throughput, TTFT and latency at 10, 50, 100 users, one row
per server and load), for any set of run directories. Rows are grouped by load so the servers at the
same load sit together; the best value of each group is highlighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlway.bench.report.console import render_formulas
from mlway.bench.report.files import load_run
from mlway.bench.report.format import by_mode, load_text, load_value, number, seconds_unit
from mlway.bench.stats import FORMULAS
from mlway.bench.summary import LoadSpec, PointSummary, RunResult
from mlway.core.errors import InputError

_SAME_BY_DESIGN = frozenset(
    {
        "url", "out", "name", "api_key", "loads", "metrics_interval", "drain",
        "connect_timeout", "read_timeout", "request_timeout",
    }
)  # fmt: skip
"""Config keys expected to differ between compared runs (not worth a note)."""


@dataclass(frozen=True)
class ComparedRun:
    """One run of a comparison, under a display name unique within it."""

    name: str
    path: Path
    run: RunResult


@dataclass(frozen=True)
class ComparisonRow:
    """One server at one load."""

    server: str
    point: PointSummary

    @property
    def load(self) -> LoadSpec:
        return self.point.load


@dataclass
class Comparison:
    """Runs to compare, their rows grouped by load, and notes on what differs between them."""

    runs: list[ComparedRun]
    notes: list[str] = field(default_factory=list)

    def groups(self) -> list[tuple[str, list[ComparisonRow]]]:
        """(load text, rows of every run at that load), closed loop first, by increasing load."""
        found: dict[tuple[str, float, str], list[ComparisonRow]] = {}
        for compared in self.runs:
            for mode, points in by_mode(compared.run.points).items():
                for point in points:
                    key = (mode, load_value(point.load), load_text(point.load))
                    found.setdefault(key, []).append(ComparisonRow(compared.name, point))
        order = sorted(found, key=lambda k: (k[0] != "concurrency", k[1], k[2]))
        return [(key[2], found[key]) for key in order]

    @property
    def rows(self) -> list[ComparisonRow]:
        return [row for _, rows in self.groups() for row in rows]


def compare_runs(dirs: Sequence[Path]) -> Comparison:
    """Load the runs in ``dirs``; InputError names any directory that is not a bench run."""
    if not dirs:
        raise InputError("nothing to compare", hint="pass two or more run directories: runs/vllm runs/llamacpp")
    loaded = [(Path(d), load_run(Path(d))) for d in dirs]
    names = _display_names(loaded)
    runs = [ComparedRun(name, path, run) for name, (path, run) in zip(names, loaded, strict=True)]
    comparison = Comparison(runs)
    comparison.notes = _notes(comparison)
    return comparison


def _display_names(loaded: Sequence[tuple[Path, RunResult]]) -> list[str]:
    names = [run.name for _, run in loaded]
    if len(set(names)) == len(names):
        return names
    return [f"{run.name} ({path})" if names.count(run.name) > 1 else run.name for path, run in loaded]


def _notes(comparison: Comparison) -> list[str]:
    notes = []
    configs = [(c.name, c.run.config) for c in comparison.runs]
    keys = sorted({key for _, config in configs for key in config} - _SAME_BY_DESIGN)
    for key in keys:
        values = [(name, config.get(key)) for name, config in configs]
        if len({repr(value) for _, value in values}) > 1:
            shown = ", ".join(f"{name}: {_short(value)}" for name, value in values)
            notes.append(f"the runs differ in {key} ({shown})")
    for text, rows in comparison.groups():
        if len(comparison.runs) > 1 and len(rows) < len(comparison.runs):
            notes.append(f"{text} was measured only by {', '.join(row.server for row in rows)}")
    return notes


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


_BEST: dict[str, bool] = {
    "req/s": True, "out tok/s": True, "TTFT p50": False, "TTFT p95": False,
    "TPOT p50": False, "E2E p50": False, "E2E p95": False,
}  # fmt: skip
"""Highlighted column -> whether higher is better."""


def comparison_cells(comparison: Comparison) -> tuple[list[str], list[tuple[str, list[list[str]]]]]:
    """The table as text: headers and, per load group, one row of cells per server."""
    rows = comparison.rows
    metrics = {"TTFT": "ttft", "TPOT": "tpot", "E2E": "e2e"}
    units = {
        title: seconds_unit(r.point.metrics[m].p95 for r in rows if m in r.point.metrics)
        for title, m in metrics.items()
    }
    headers = ["load", "server", "ok/req", "req/s", "out tok/s"]
    columns = (("TTFT", "p50"), ("TTFT", "p95"), ("TPOT", "p50"), ("E2E", "p50"), ("E2E", "p95"))
    headers += [f"{title} {name} {units[title][0]}" for title, name in columns]
    headers.append("errors")
    groups = []
    for text, group in comparison.groups():
        cells = []
        for row in group:
            p = row.point

            def stat(title: str, name: str, p: PointSummary = p) -> str:
                dist = p.metrics.get(metrics[title])
                return "-" if dist is None else number(getattr(dist, name) * units[title][1])

            cells.append(
                [
                    text, row.server, f"{p.ok}/{p.requests}", number(p.request_rate), number(p.output_token_rate),
                    *(stat(title, name) for title, name in columns), str(sum(p.errors.values())),
                ]
            )  # fmt: skip
        groups.append((text, cells))
    return headers, groups


def best_cells(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> set[tuple[int, int]]:
    """(row, column) of the best value of each highlighted column within one load group."""
    best: set[tuple[int, int]] = set()
    if len(cells) < 2:
        return best
    for column, header in enumerate(headers):
        higher = next((up for prefix, up in _BEST.items() if header.startswith(prefix)), None)
        if higher is None:
            continue
        values = [(float(row[column]), index) for index, row in enumerate(cells) if row[column] != "-"]
        if len(values) >= 2:
            target = max(values)[0] if higher else min(values)[0]
            best |= {(index, column) for value, index in values if value == target}
    return best


def render_comparison(console: Console, comparison: Comparison) -> None:
    """Print the side-by-side table (best value per load in bold green), then the notes."""
    headers, groups = comparison_cells(comparison)
    title = "Comparison: " + ", ".join(f"{c.name} ({c.path})" for c in comparison.runs)
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index < 2 else "right")
    for _, cells in groups:
        best = best_cells(headers, cells)
        for r, row in enumerate(cells):
            styled = [Text(cell, style="bold green" if (r, c) in best else "") for c, cell in enumerate(row)]
            table.add_row(*styled, end_section=r == len(cells) - 1)
    console.print(table)
    for note in comparison.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    for compared in comparison.runs:
        warned = sum(len(p.warnings) for p in compared.run.points)
        if warned:
            console.print(Text(f"{compared.name}: {warned} warnings, see {compared.path}/report.html", style="yellow"))
    formulas = comparison.runs[0].run.formulas or FORMULAS
    render_formulas(console, formulas, ("ttft", "tpot", "e2e", "request_rate", "output_token_rate"))


def write_comparison_html(comparison: Comparison, path: Path) -> Path:
    """An offline HTML page: the table and overlaid plots of every run."""
    from mlway.bench.report.comparison_html import render_comparison_html  # noqa: PLC0415 - matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_comparison_html(comparison), encoding="utf-8")
    return path
