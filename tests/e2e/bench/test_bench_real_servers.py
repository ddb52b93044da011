"""`mlway bench` against real third-party servers: vLLM CPU batches, llama.cpp queues.

The servers run a tiny random-weight Llama built offline by scripts/setup_servers.sh; what matters
here is how each engine schedules concurrent requests, which the tiny model does not change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlway.bench.records import read_records
from servers import exact_length_fields  # tests/servers.py, on sys.path via tests/e2e/conftest.py

pytestmark = pytest.mark.real_server


def bench(server: Any, out: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mlway", "bench", "run", "--url", server.base_url, "--model", server.model,
         "--tokenizer", str(server.tokenizer_dir), "--out", str(out), *args],
        capture_output=True, text=True, timeout=900, check=False, env=os.environ | {"COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads((out / "run.json").read_text())
    return result


def test_vllm_batches_concurrent_requests(vllm_server: Any, tmp_path: Path) -> None:
    run = bench(
        vllm_server, tmp_path / "vllm", "--concurrency", "1,8", "--requests", "24", "--input-tokens", "64",
        "--output-tokens", "160",
    )  # fmt: skip
    c1, c8 = run["points"]
    assert c1["errors"] == {}
    assert c8["errors"] == {}
    e2e1, e2e8 = c1["metrics"]["e2e"]["p50"], c8["metrics"]["e2e"]["p50"]
    # continuous batching: a new request starts at once instead of waiting for those ahead (TTFT a
    # small part of its E2E even with 8 users), and by Little's law (users / median E2E) 8 users get several
    # times the throughput of one. Medians, so a busy machine's stragglers do not decide.
    assert c8["metrics"]["ttft"]["p50"] < 0.5 * e2e8
    assert 8 / e2e8 > 2.0 / e2e1
    # the forced length is honoured and counted from the server's usage
    assert c8["tokens_source"] == {"usage": 24}
    assert c8["metrics"]["output_tokens"]["min"] == c8["metrics"]["output_tokens"]["max"] == 160
    prompts = [r.prompt_tokens for r in read_records(tmp_path / "vllm" / c8["records_path"]) if not r.warmup]
    assert all(p is not None and 65 <= p <= 66 for p in prompts), prompts  # 64 of text + BOS (+1 at a seam)
    # queue depth sampled from vLLM's Prometheus metrics during the run (vLLM publishes its gauges
    # with some delay, so the point lasts a few seconds)
    assert c8["server_metrics"]["running"]["max"] >= 2
    assert c8["server_metrics"]["kv_cache_usage"]["max"] > 0


def test_llamacpp_queues_concurrent_requests(llamacpp_server: Any, tmp_path: Path) -> None:
    # llama-cpp-python overshoots max_tokens while its text ends mid UTF-8 character; banning the
    # lead bytes (beside EOS) keeps the random model's outputs at the asked length
    extra = json.dumps(exact_length_fields(llamacpp_server))
    run = bench(
        llamacpp_server, tmp_path / "llamacpp", "--concurrency", "1,4", "--requests", "24", "--input-tokens", "64",
        "--output-tokens", "32", "--extra-body", extra, "--warmup", "4",
    )  # fmt: skip
    c1, c4 = run["points"]
    assert c1["errors"] == {}
    assert c4["errors"] == {}
    # one request at a time: each of 4 users waits for the 3 ahead, so waiting dominates a request's
    # life (TTFT most of E2E, while alone it is a small part) and TTFT grows with the queue
    assert c1["metrics"]["ttft"]["p50"] < 0.5 * c1["metrics"]["e2e"]["p50"]
    assert c4["metrics"]["ttft"]["p50"] > 0.5 * c4["metrics"]["e2e"]["p50"]
    assert c4["metrics"]["ttft"]["p50"] > 3.0 * c1["metrics"]["ttft"]["p50"]
    # no usage in llama.cpp streams: tokens are counted with the tokenizer, and the logit_bias on EOS
    # forces the asked length (within the tokenizer's re-encoding slack)
    assert c4["tokens_source"] == {"tokenizer": 24}
    assert abs(c4["metrics"]["output_tokens"]["mean"] - 32) <= 3
