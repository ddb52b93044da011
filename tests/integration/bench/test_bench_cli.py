"""`mlway bench` as a user runs it: the real CLI process against mlway's simulated server process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlway.bench.records import read_records
from mlway.bench.simserver import CHAT_TOKENS_PER_MESSAGE, SimServerConfig, spawn_sim_server

ENV = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}


def mlway(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlway", *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with spawn_sim_server(SimServerConfig(ttft=0.02, itl=0.005, max_batch=8, batch_slowdown=0.0)) as url:
        yield url


@pytest.fixture(scope="module")
def flaky() -> Iterator[str]:
    config = SimServerConfig(ttft=0.005, itl=0.002, max_batch=64, fail_rate=0.3, seed=3)
    with spawn_sim_server(config) as url:
        yield url


def load_run(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "run.json").read_text())


def test_concurrency_sweep_writes_every_output(sim: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = mlway(
        "bench", "run", "--url", sim, "--concurrency", "1,8", "--requests", "24", "--input-tokens", "64",
        "--output-tokens", "16", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "c1" in done.stdout
    assert "c8" in done.stdout
    run = load_run(out)
    c1, c8 = run["points"]
    assert c1["requests"] == c8["requests"] == 24
    assert c1["warmup"] == 1
    assert c8["warmup"] == 8
    # 8 users share 8 batch slots with no slowdown: ~8x the request rate of one user
    assert c8["request_rate"] > 4 * c1["request_rate"]
    # TTFT is the server's 20 ms whatever the load, as configured
    assert 0.015 < c8["metrics"]["ttft"]["p50"] < 0.06
    assert c8["metrics"]["output_tokens"]["mean"] == 16
    assert c8["tokens_source"] == {"usage": 24}
    records = list(read_records(out / c8["records_path"]))
    assert len(records) == 32  # warm-up included on disk, flagged
    assert sum(r.warmup for r in records) == 8
    assert all(len(r.chunk_times) == 16 for r in records)
    assert (out / "summary.csv").read_text().count("\n") == 3
    html = (out / "report.html").read_text()
    assert "<svg" in html
    assert "http://" not in html.replace(sim, "")  # readable offline: no external resources


def test_prompt_sizes_are_calibrated_from_server_usage(sim: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = mlway(
        "bench", "run", "--url", sim, "--concurrency", "2", "--requests", "10", "--input-tokens", "300",
        "--output-tokens", "4", "--out", str(out), "--endpoint", "chat",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    prompt_tokens = [r.prompt_tokens for r in read_records(out / "points/c2/requests.jsonl")]
    # 300 tokens of prompt text, plus the chat template's tokens the server adds on top
    assert set(prompt_tokens) == {300 + CHAT_TOKENS_PER_MESSAGE}


def test_open_loop_reports_achieved_rate_and_slo(sim: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = mlway(
        "bench", "run", "--url", sim, "--rate", "40", "--arrival", "constant", "--duration", "2s",
        "--input-tokens", "32", "--output-tokens", "8", "--slo", "ttft_p95=1s,tpot_p95=50ms", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    point = load_run(out)["points"][0]
    assert point["target_rate"] == 40
    assert 36 <= point["send_rate"] <= 44
    assert point["slo"]["passed"] is True
    assert point["slo"]["attainment"] == 1.0
    assert point["metrics"]["queue_time"]["p99"] < 0.05


def test_errors_are_counted_by_kind_and_the_run_continues(flaky: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = mlway(
        "bench", "run", "--url", flaky, "--concurrency", "4", "--requests", "80", "--input-tokens", "16",
        "--output-tokens", "8", "--warmup", "0", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    point = load_run(out)["points"][0]
    failed = sum(point["errors"].values())
    assert point["requests"] == 80
    assert 8 <= failed <= 45
    assert point["ok"] == 80 - failed
    assert set(point["errors"]) <= {"http_4xx", "http_5xx", "sse_malformed", "stream_error", "disconnected"}
    assert len(point["errors"]) >= 2


def test_embeddings_and_non_streaming(sim: str, tmp_path: Path) -> None:
    for endpoint, extra in (("embeddings", []), ("completions", ["--no-stream"])):
        out = tmp_path / endpoint
        done = mlway(
            "bench", "run", "--url", sim, "--concurrency", "2", "--requests", "10", "--input-tokens", "32",
            "--output-tokens", "8", "--endpoint", endpoint, "--out", str(out), *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        point = load_run(out)["points"][0]
        assert point["ok"] == 10
        assert point["metrics"]["e2e"]["count"] == 10


def test_slo_search_finds_the_concurrency_limit(tmp_path: Path) -> None:
    # one batch slot: TTFT grows with every queued user, so only low concurrency meets 60 ms
    with spawn_sim_server(SimServerConfig(ttft=0.01, itl=0.001, max_batch=1)) as url:
        out = tmp_path / "slo"
        done = mlway(
            "bench", "slo", "--url", url, "--ttft-p95", "60ms", "--mode", "concurrency", "--start", "1",
            "--max", "32", "--requests", "20", "--input-tokens", "16", "--output-tokens", "10", "--out", str(out),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    search = load_run(out)["search"]
    assert search["answer"] is not None
    assert 1 <= search["answer"] <= 4
    assert any(not t["passed"] and "ttft_p95" in t["binding"] for t in search["trials"])
    assert "highest" in done.stdout.lower() or str(int(search["answer"])) in done.stdout


def test_unreachable_server_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    started = time.monotonic()
    done = mlway("bench", "run", "--url", "http://127.0.0.1:9/v1", "--concurrency", "1", "--out", str(tmp_path))
    assert time.monotonic() - started < 20
    assert done.returncode == 4
    assert "cannot reach the server" in done.stderr
    assert "--url" in done.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--concurrency", "10,x"], "--concurrency"),
        (["--concurrency", "2", "--rate", "5"], "one kind of load"),
        (["--concurrency", "2", "--input-tokens", "lots"], "--input-tokens"),
        (["--concurrency", "2", "--duration", "soon"], "--duration"),
        (["--rate", "5", "--arrival", "bursty"], "--arrival"),
        (["--concurrency", "2", "--slo", "ttft=1s"], "ttft"),
    ],
)
def test_invalid_arguments_name_the_option(args: list[str], named: str) -> None:
    done = mlway("bench", "run", "--url", "http://127.0.0.1:9/v1", *args)
    assert done.returncode == 2
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_writes_partial_results(sim: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlway", "bench", "run", "--url", sim, "--concurrency", "4", "--duration", "60s",
         "--input-tokens", "16", "--output-tokens", "50", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    time.sleep(4.0)  # start-up plus a few seconds of load
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "interrupted" in stdout
    run = load_run(out)
    assert run["interrupted"] is True
    assert run["points"][0]["ok"] > 10
    assert (out / "report.html").is_file()


def test_api_key_is_sent_and_a_wrong_one_is_explained(tmp_path: Path) -> None:
    with spawn_sim_server(SimServerConfig(ttft=0.001, itl=0.001, api_key="s3cret")) as url:
        common = ("--concurrency", "1", "--requests", "3", "--input-tokens", "8", "--output-tokens", "4")
        ok = mlway("bench", "run", "--url", url, *common, "--api-key", "s3cret", "--out", str(tmp_path / "a"))
        wrong = mlway("bench", "run", "--url", url, *common, "--api-key", "nope", "--out", str(tmp_path / "b"))
    assert ok.returncode == 0, ok.stderr
    assert load_run(tmp_path / "a")["points"][0]["ok"] == 3
    assert "s3cret" not in (tmp_path / "a" / "run.json").read_text()  # secrets stay out of results
    assert wrong.returncode == 4
    assert "API key" in wrong.stderr


def test_a_stalled_stream_times_out_by_kind_and_names_the_setting(tmp_path: Path) -> None:
    with spawn_sim_server(SimServerConfig(ttft=0.01, itl=2.0)) as url:  # 2 s between tokens
        done = mlway(
            "bench", "run", "--url", url, "--concurrency", "2", "--requests", "2", "--warmup", "0",
            "--input-tokens", "8", "--output-tokens", "5", "--read-timeout", "300ms", "--out", str(tmp_path),
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    point = load_run(tmp_path)["points"][0]
    assert point["errors"] == {"timeout": 2}
    record = next(iter(read_records(tmp_path / point["records_path"])))
    assert record.error is not None
    assert "--read-timeout" in record.error
