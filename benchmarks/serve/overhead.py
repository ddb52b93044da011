"""Benchmark 2: server overhead vs calling onnxruntime directly, on the same model and batch.

Two models: MiniLM int8 at batch 8 x 20 tokens (a real workload, tens of ms per call) and a small conv
net at batch 1 (well under a millisecond per call, where the server's fixed cost per request shows).

Raw: an onnxruntime session in this process with the worker's settings (1 intra-op thread, pinned to
core 0). Served: `mlway serve` with the same bundle, its worker on core 0 (cpu_threads 1), batches
capped at the request's size so the server cannot merge requests into bigger batches than raw runs;
the KServe v2 client (aiohttp) is pinned to core 1. Throughput at saturation (4 clients) and p50
latency of one client at a time are compared in the same run, for KServe v2 JSON bodies and for the
binary tensor extension (raw tensor bytes after a JSON header, in and out).

    .venv/bin/python benchmarks/serve/overhead.py --model minilm --batch 8
    .venv/bin/python benchmarks/serve/overhead.py --model cam --batch 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import numpy as np
import onnxruntime as ort
import yaml
from common import CACHE, WORK, Server, closed_loop, machine, pct, pin, v2_binary_body, v2_body, write_result
from embeddings import texts_of

from mlway.runtime import TextPreprocessing
from mlway.runtime.testing import write_bundle
from mlway.serve import TextEncoder, build_minilm


def raw(path: str, feeds: dict[str, np.ndarray], calls: int) -> dict[str, float]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    for _ in range(20):
        session.run(None, feeds)
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        session.run(None, feeds)
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    rows = len(next(iter(feeds.values())))
    return {"p50_ms": pct(latencies, 50) * 1000, "rows_per_s": calls * rows / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm", choices=["minilm", "cam"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    models = WORK / "overhead" / args.model
    if args.model == "minilm":
        bundle = build_minilm(models / "minilm", variants=["int8"], cpu_threads=1, cache_dir=CACHE)
        encoder = TextEncoder.standalone(bundle.directory / "tokenizer", TextPreprocessing(tokenizer="."))
        feeds, _ = encoder.encode(texts_of(args.batch, args.tokens))
        entry = bundle.directory / "int8.onnx"
    else:
        bundle = write_bundle(models / "cam", name="cam", kind="conv", variants=("fp32",), max_queue=256)
        feeds = {"image": np.random.default_rng(0).standard_normal((args.batch, 3, 32, 32)).astype(np.float32)}
        entry = bundle.directory / "fp32.onnx"
    (bundle.directory / "mlway-serve.yaml").write_text(yaml.safe_dump({"max_batch_size": args.batch}))
    body = v2_body(feeds)
    binary_body, binary_headers = v2_binary_body(feeds)
    rows = args.batch
    keys = ("raw_p50_ms", "raw_rows_per_s", "served_p50_ms", "served_rows_per_s", "binary_p50_ms", "binary_rows_per_s")
    results: dict[str, list[float]] = {k: [] for k in keys}
    with Server(models) as server:
        url = server.url + f"/v2/models/{args.model}/infer"
        asyncio.run(closed_loop(url, body, concurrency=1, requests=50))
        for _ in range(args.repeats):
            pin([0])
            r = raw(str(entry), feeds, args.requests)
            pin([1])
            one = asyncio.run(closed_loop(url, body, concurrency=1, requests=args.requests, warmup=10))
            sat = asyncio.run(closed_loop(url, body, concurrency=args.concurrency, requests=args.requests, warmup=20))
            b_one = asyncio.run(closed_loop(url, binary_body, concurrency=1, requests=args.requests, warmup=10,
                                            headers=binary_headers))  # fmt: skip
            b_sat = asyncio.run(closed_loop(url, binary_body, concurrency=args.concurrency, requests=args.requests,
                                            warmup=20, headers=binary_headers))  # fmt: skip
            for record in (one, sat, b_one, b_sat):
                assert set(record.statuses) == {200}, record.statuses
            results["raw_p50_ms"].append(r["p50_ms"])
            results["raw_rows_per_s"].append(r["rows_per_s"])
            results["served_p50_ms"].append(pct(one.latencies, 50) * 1000)
            results["served_rows_per_s"].append(args.requests * rows / sat.wall)
            results["binary_p50_ms"].append(pct(b_one.latencies, 50) * 1000)
            results["binary_rows_per_s"].append(args.requests * rows / b_sat.wall)
        metrics = server.get("/v2/models")["models"][0]
        batches = server.get("/v2/models")["models"][0]["served"]
    medians = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "throughput_ratio": medians["served_rows_per_s"] / medians["raw_rows_per_s"],
        "added_p50_ms": medians["served_p50_ms"] - medians["raw_p50_ms"],
        "binary_throughput_ratio": medians["binary_rows_per_s"] / medians["raw_rows_per_s"],
        "binary_added_p50_ms": medians["binary_p50_ms"] - medians["raw_p50_ms"],
        "medians": medians,
        "runs": results,
        "variant": metrics["variant"],
        "batch_calls_served": batches,
    }
    path = write_result(f"overhead-{args.model}-b{args.batch}", {"machine": machine(), "args": vars(args), **summary})
    print(json.dumps(summary, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
