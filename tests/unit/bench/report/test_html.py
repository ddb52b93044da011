from __future__ import annotations

from pathlib import Path

from rich.console import Console

from mlway.bench.records import RequestRecord
from mlway.bench.report import render_html, render_run
from mlway.bench.stats import summarize
from mlway.bench.summary import LoadSpec, RunResult


def all_failed_run() -> RunResult:
    load = LoadSpec(mode="rate", rate=5.0, arrival="poisson")
    records = [
        RequestRecord(index=i, warmup=False, scheduled_at=0.2 * i, sent_at=0.2 * i, end_at=0.2 * i + 0.01,
                      status=500, error_kind="http_5xx", error="boom")
        for i in range(5)
    ]  # fmt: skip
    point = summarize(records, load=load, label=load.label, records_path="points/r5/requests.jsonl")
    return RunResult(
        name="<b>mine</b>", started_at="2026-01-01T00:00:00+00:00", interrupted=True,
        config={"note": "<script>alert(1)</script>"}, environment={}, points=[point],
    )  # fmt: skip


def test_a_run_where_everything_failed_still_renders_everywhere(tmp_path: Path) -> None:
    run = all_failed_run()
    html = render_html(run, tmp_path)
    assert "<svg" not in html  # nothing to plot
    assert "no request succeeded (http_5xx: 5)" in html
    assert "partial results" in html
    console = Console(record=True, width=100, color_system=None)
    render_run(console, run)
    text = console.export_text()
    assert "5 req/s poisson" in text
    assert "0/5" in text


def test_names_and_config_are_escaped(tmp_path: Path) -> None:
    html = render_html(all_failed_run(), tmp_path)
    assert "<b>mine</b>" not in html
    assert "&lt;b&gt;mine&lt;/b&gt;" in html
    assert "<script>" not in html
