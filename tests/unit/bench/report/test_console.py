from __future__ import annotations

from rich.console import Console

import mlway.bench.report
from mlway.bench.records import RequestRecord
from mlway.bench.report import render_run, render_search
from mlway.bench.slo import SloSpec
from mlway.bench.stats import FORMULAS, summarize
from mlway.bench.summary import LoadSpec, RunResult, SearchSummary, SearchTrial


def request(index: int, *, sent: float, ttft: float = 0.2, error: str | None = None) -> RequestRecord:
    chunks = [] if error else [sent + ttft + 0.05 * i for i in range(128)]
    return RequestRecord(
        index=index, warmup=False, scheduled_at=sent, sent_at=sent,
        first_content_at=chunks[0] if chunks else None, end_at=chunks[-1] if chunks else sent + 1.0,
        chunk_times=chunks, prompt_tokens=512, completion_tokens=None if error else 128,
        output_tokens_target=128, tokens_source="none" if error else "usage", error_kind=error,
    )  # fmt: skip


def make_run(*, slo: bool) -> RunResult:
    run = RunResult(
        name="vllm", started_at="2026-01-01T00:00:00+00:00",
        config={"model": "llama-3.1-8b", "url": "http://127.0.0.1:8000/v1"}, environment={}, formulas=FORMULAS,
    )  # fmt: skip
    load = LoadSpec(mode="concurrency", concurrency=10)
    records = [request(i, sent=6.55 * (i // 10)) for i in range(99)] + [request(99, sent=0.0, error="http_5xx")]
    run.points.append(
        summarize(records, load=load, label="c10", records_path="points/c10/requests.jsonl",
                  slo=SloSpec.parse("ttft_p95=1s,tpot_p95=50ms") if slo else None)
    )  # fmt: skip
    return run


def printed(run: RunResult, width: int = 100) -> str:
    console = Console(record=True, width=width, color_system=None)
    render_run(console, run)
    return console.export_text()


def test_the_run_table_shows_what_a_user_reads_and_fits_100_columns() -> None:
    text = printed(make_run(slo=True))
    assert "vllm" in text
    assert "llama-3.1-8b" in text
    table = text.split("SLO:")[0]
    assert "…" not in table  # nothing truncated at 100 columns
    assert "10 users" in table
    assert "99/100" in table
    line = next(row for row in table.splitlines() if "10 users" in row)
    assert "p50" in line
    assert "200" in line  # TTFT p50 200 ms
    assert "50" in line  # TPOT p50 50 ms
    assert "6550" in line  # E2E p50 6550 ms
    assert "pass" in line
    assert "ttft_p95 <= 1.00 s" in text


def test_the_run_prints_warnings_and_the_formulas_footnote() -> None:
    text = printed(make_run(slo=False))
    assert "warning: c10: only 99 successful requests" in text
    assert "tpot: time per output token = (E2E - TTFT) / (output_tokens - 1)" in text
    assert "GenAI-Perf" in text
    assert "SLO" not in text.split("ttft:")[0]


def test_search_answer_and_trials_are_printed() -> None:
    search = SearchSummary(
        mode="rate", slo="ttft_p95=1s", answer=12.5, bracket=(12.5, 15.0),
        trials=[SearchTrial(load=10, passed=True), SearchTrial(load=15, passed=False, binding="ttft_p95 1.8s > 1s"),
                SearchTrial(load=12.5, passed=True)],
    )  # fmt: skip
    console = Console(record=True, width=100, color_system=None)
    render_search(console, search)
    text = console.export_text()
    assert "ttft_p95 1.8s > 1s" in text
    assert "highest load meeting the SLO: 12.5 req/s; 15 req/s failed" in text


def test_a_search_where_nothing_passed_says_so() -> None:
    search = SearchSummary(mode="concurrency", slo="ttft_p95=1ms", answer=None, bracket=(None, 1.0), trials=[])
    console = Console(record=True, width=100, color_system=None)
    render_search(console, search)
    assert "no load met the SLO (the lowest tried, 1 users, failed)" in console.export_text()


def test_public_api_is_pinned() -> None:
    assert sorted(mlway.bench.report.__all__) == [
        "CSV_COLUMNS", "REPORT_HTML", "RUN_JSON", "SUMMARY_CSV", "load_run", "points_table", "render_formulas",
        "render_html", "render_run", "render_search", "summary_rows", "write_html_report", "write_run_files",
    ]  # fmt: skip
