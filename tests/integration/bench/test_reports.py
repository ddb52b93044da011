"""Reports of runs written to disk: records streamed to requests.jsonl, summarized, then every report.

The records are built by hand with known timings (a request sent at 0, first content at 0.2 s, a
chunk every 50 ms), so each number a user reads is known in advance.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from mlway.bench.compare import compare_runs, render_comparison, write_comparison_html
from mlway.bench.records import RecordWriter, RequestRecord, read_records
from mlway.bench.report import load_run, render_run, write_run_files
from mlway.bench.slo import SloSpec
from mlway.bench.stats import FORMULAS, summarize
from mlway.bench.summary import LoadSpec, RunResult
from mlway.core.errors import InputError

EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|<script|<link""", re.IGNORECASE
)
"""Anything a browser would fetch: a linked or sourced URL, a CSS url(), a script or a stylesheet link."""


def streamed(index: int, sent: float, ttft: float, gap: float, tokens: int = 32) -> RequestRecord:
    chunks = [sent + ttft + gap * i for i in range(tokens)]
    return RequestRecord(
        index=index, warmup=index < 2, scheduled_at=sent, sent_at=sent, headers_at=sent + 0.01,
        first_content_at=chunks[0], end_at=chunks[-1], chunk_times=chunks, events=tokens + 2,
        input_tokens_target=256, output_tokens_target=tokens, prompt_tokens=256, completion_tokens=tokens,
        tokens_source="usage", status=200,
    )  # fmt: skip


def write_run(out: Path, name: str, *, ttft: float, gap: float, sampled: bool = True) -> RunResult:
    """A two-point sweep (10 and 100 users); at 100 users TTFT doubles and the server queues."""
    run = RunResult(
        name=name, started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:05:00+00:00",
        config={"url": f"http://{name}:8000/v1", "model": "llama-3.1-8b", "output_tokens": "32", "out": str(out)},
        environment={"mlway": "0.1.0", "python": "3.11", "host": "bench-box"}, formulas=dict(FORMULAS),
    )  # fmt: skip
    slo = SloSpec.parse("ttft_p95=1s,tpot_p95=60ms")
    for users, factor in ((10, 1.0), (100, 2.0)):
        load = LoadSpec(mode="concurrency", concurrency=users)
        rel = f"points/{load.label}/requests.jsonl"
        with RecordWriter(out / rel) as writer:
            for i in range(202):
                writer.write(streamed(i, sent=0.5 * (i // users), ttft=ttft * factor, gap=gap))
        samples = (
            [{"t": 0.5 * k, "running": min(users, 64.0), "waiting": max(0.0, users - 64.0), "kv_cache_usage": 0.3}
             for k in range(20)] if sampled else []
        )  # fmt: skip
        run.points.append(
            summarize(read_records(out / rel), load=load, label=load.label, records_path=rel, slo=slo,
                      server_samples=samples)
        )  # fmt: skip
    write_run_files(out, run, html=True)
    return run


@pytest.fixture
def vllm(tmp_path: Path) -> Path:
    write_run(tmp_path / "vllm", "vllm", ttft=0.2, gap=0.05)
    return tmp_path / "vllm"


@pytest.fixture
def llamacpp(tmp_path: Path) -> Path:
    write_run(tmp_path / "llamacpp", "llamacpp", ttft=0.6, gap=0.08, sampled=False)
    return tmp_path / "llamacpp"


def test_summary_numbers_come_from_the_streamed_records(vllm: Path) -> None:
    run = load_run(vllm)
    c10, c100 = run.points
    assert (c10.requests, c10.ok, c10.warmup) == (200, 200, 2)
    assert c10.metrics["ttft"].p50 == pytest.approx(0.2)
    assert c100.metrics["ttft"].p99 == pytest.approx(0.4)
    assert c10.metrics["tpot"].p95 == pytest.approx(0.05)
    assert c10.metrics["itl"].count == 200 * 31
    assert c10.metrics["e2e"].max == pytest.approx(0.2 + 31 * 0.05)
    assert c10.slo is not None
    assert c10.slo.passed
    assert c10.slo.attainment == 1.0
    assert c100.server_metrics["waiting"].max == 36.0
    assert c10.warnings == []


def test_console_report_shows_each_point_and_the_formulas(vllm: Path) -> None:
    console = Console(record=True, width=120, color_system=None)
    render_run(console, load_run(vllm))
    text = console.export_text()
    row = next(line for line in text.splitlines() if "100 users" in line)
    assert "400" in row  # TTFT p50 at 100 users: 400 ms
    assert "1950" in row  # E2E p50: 0.4 + 31 x 0.05 s
    assert "server: c100: running mean 64 (max 64), waiting mean 36 (max 36), KV cache max 30%" in text
    assert "itl: inter-token latency = every gap between consecutive content chunks" in text


def test_html_report_is_self_contained_with_a_plot_each(vllm: Path) -> None:
    html = (vllm / "report.html").read_text()
    # TTFT and TPOT vs load, throughput vs latency, TTFT CDF, server queue depth and KV use.
    assert html.count("<svg") == 5
    for caption in ("TTFT percentiles vs load", "TPOT percentiles vs load", "Throughput vs latency",
                    "TTFT distribution per load point", "Server queue depth and KV-cache use"):  # fmt: skip
        assert caption in html
    assert not EXTERNAL.search(html)
    assert "http" not in html.replace("http://vllm:8000/v1", "")  # not even an SVG namespace
    assert "(E2E - TTFT) / (output_tokens - 1)" in html
    assert "bench-box" in html  # the environment
    assert "http://vllm:8000/v1" in html  # the config, as text
    assert "ttft_p95 &lt;= 1.00 s" in html


def test_html_report_without_server_metrics_or_records_still_renders(llamacpp: Path) -> None:
    for point_dir in (llamacpp / "points").iterdir():
        (point_dir / "requests.jsonl").unlink()
    run = load_run(llamacpp)
    write_run_files(llamacpp, run, html=True)
    html = (llamacpp / "report.html").read_text()
    assert html.count("<svg") == 3  # no TTFT CDF without records, no server plot without samples


def test_compare_prints_both_servers_at_each_load(vllm: Path, llamacpp: Path) -> None:
    comparison = compare_runs([vllm, llamacpp])
    console = Console(record=True, width=140, color_system=None)
    render_comparison(console, comparison)
    text = console.export_text()
    rows = [line for line in text.splitlines() if "100 users" in line]
    assert len(rows) == 2
    assert "vllm" in rows[0]
    assert "400" in rows[0]  # vLLM TTFT p50 at 100 users
    assert "llamacpp" in rows[1]
    assert "1200" in rows[1]  # llama.cpp TTFT p50 at 100 users
    assert any("vllm" in line and "10 users" in line for line in text.splitlines())
    assert not comparison.notes  # same workload, so nothing to flag


def test_compare_flags_runs_with_different_workloads(vllm: Path, tmp_path: Path) -> None:
    other = load_run(vllm)
    other.name = "vllm-long"
    other.config["output_tokens"] = "512"
    other.points = other.points[:1]
    write_run_files(tmp_path / "long", other, html=False)
    comparison = compare_runs([vllm, tmp_path / "long"])
    assert "the runs differ in output_tokens (vllm: 32, vllm-long: 512)" in comparison.notes
    assert "100 users was measured only by vllm" in comparison.notes


def test_compare_html_overlays_the_runs(vllm: Path, llamacpp: Path, tmp_path: Path) -> None:
    path = write_comparison_html(compare_runs([vllm, llamacpp]), tmp_path / "cmp" / "compare.html")
    html = path.read_text()
    # TTFT, TPOT, E2E vs load; throughput vs load; throughput vs latency; TTFT CDF at 100 users.
    assert html.count("<svg") == 6
    assert "TTFT distribution at 100 users" in html
    assert "vllm" in html
    assert "llamacpp" in html
    assert not EXTERNAL.search(html)


def test_compare_names_a_directory_that_is_not_a_run(vllm: Path, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    with pytest.raises(InputError, match=r"notes is not a bench run: it has no run.json"):
        compare_runs([vllm, tmp_path / "notes"])


def test_two_runs_with_the_same_name_stay_apart(vllm: Path, tmp_path: Path) -> None:
    write_run(tmp_path / "again", "vllm", ttft=0.3, gap=0.05)
    names = [run.name for run in compare_runs([vllm, tmp_path / "again"]).runs]
    assert names == [f"vllm ({vllm})", f"vllm ({tmp_path / 'again'})"]
