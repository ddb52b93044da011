"""Reports of bench runs: the console table, run.json/summary.csv files and the offline HTML page."""

from mlway.bench.report.console import points_table, render_formulas, render_run, render_search
from mlway.bench.report.files import (
    CSV_COLUMNS,
    REPORT_HTML,
    RUN_JSON,
    SUMMARY_CSV,
    load_run,
    summary_rows,
    write_run_files,
)
from mlway.bench.report.html import render_html, write_html_report

__all__ = [
    "CSV_COLUMNS",
    "REPORT_HTML",
    "RUN_JSON",
    "SUMMARY_CSV",
    "load_run",
    "points_table",
    "render_formulas",
    "render_html",
    "render_run",
    "render_search",
    "summary_rows",
    "write_html_report",
    "write_run_files",
]
