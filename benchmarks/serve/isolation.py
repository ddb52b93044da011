"""Benchmark 4: isolation. A neighbour is flooded with requests and driven over its memory quota; does the
observed model's p99 latency stay within 10% of its baseline, with zero errors?

Two models on this 2-core machine, one core each (cores are never shared, so a third model would need a
third core): "cam" (conv net, fp32, the observed model) and "hog" (a wide MLP, fp32 then int8, a 400 MiB
quota). The observed client sends KServe v2 requests to cam at a constant rate. Baseline: hog idle.
Stressed: a separate process floods hog at 400 requests/s of 64 rows, several times what it can serve (its
queue holds 8: the rest get 429 before their bodies are parsed),
and one oversized batch drives hog's worker past its quota mid-run (the watchdog kills it, hog falls back
to int8 and keeps being flooded). Same rate, same duration, same inputs; the order alternates over repeats.

    .venv/bin/python benchmarks/serve/isolation.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import yaml
from common import WORK, Server, machine, open_loop, pct, v2_body, write_result

from mlway.runtime.testing import write_bundle

FLOOD = """
import asyncio, sys
sys.path.insert(0, {here!r})
from common import open_loop
body = open({body!r}, "rb").read()
record = asyncio.run(open_loop({url!r}, body, rate={rate}, duration={duration}))
print(record.statuses, len(record.errors))
"""


def models(root: Path) -> Path:
    if not (root / "cam").is_dir():
        write_bundle(root / "cam", name="cam", kind="conv", variants=("fp32",), image_size=64, max_queue=256)
    if not (root / "hog").is_dir():
        write_bundle(root / "hog", name="hog", hidden=4096, memory="400MiB", max_queue=8)
        (root / "hog" / "mlway-serve.yaml").write_text(yaml.safe_dump({"max_batch_size": 16384}))
    return root


def flood(url: str, body: Path, rate: float, duration: float) -> subprocess.Popen[str]:
    code = FLOOD.format(here=str(Path(__file__).parent), body=str(body), url=url, rate=rate, duration=duration)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def observe(url: str, body: bytes, rate: float, duration: float) -> dict[str, Any]:
    record = asyncio.run(open_loop(url, body, rate=rate, duration=duration))
    errors = sum(n for s, n in record.statuses.items() if s != 200) + len(record.errors)
    return {"p50_ms": pct(record.latencies, 50) * 1000, "p99_ms": pct(record.latencies, 99) * 1000,
            "requests": len(record.latencies) + len(record.errors), "errors": errors}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="observed requests per second")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flood-rate", type=float, default=400.0, help="requests/s sent to hog (64 rows each)")
    args = parser.parse_args()

    root = models(WORK / "isolation" / "models")
    image = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    cam_body = v2_body({"image": image})
    small = WORK / "isolation" / "small.json"
    small.write_bytes(v2_body({"input": np.ones((64, 16), np.float32)}))
    hog_body = v2_body({"input": np.ones((8192, 16), np.float32)})
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        with Server(root, "--max-body-bytes", "64MiB", budget="2GiB") as server:
            cam, hog = server.url + "/v2/models/cam/infer", server.url + "/v2/models/hog/infer"
            asyncio.run(open_loop(cam, cam_body, rate=args.rate, duration=2))
            order = ["baseline", "stressed"] if repeat % 2 == 0 else ["stressed", "baseline"]
            for phase in order:
                if phase == "baseline":
                    result = observe(cam, cam_body, args.rate, args.duration)
                else:
                    flooder = flood(hog, small, args.flood_rate, args.duration + 2)
                    time.sleep(1)
                    loop = asyncio.new_event_loop()
                    watch = loop.run_in_executor(None, observe, cam, cam_body, args.rate, args.duration)
                    loop.run_until_complete(asyncio.sleep(args.duration / 4))
                    hog_status = loop.run_until_complete(_post(hog, hog_body))
                    result = loop.run_until_complete(watch)
                    loop.close()
                    flooder.kill()
                    flooder.wait()
                    after = next(m for m in server.get("/v2/models")["models"] if m["name"] == "hog")
                    result |= {"hog_oversized_status": hog_status, "hog_variant_after": after["variant"],
                               "hog_events": [e["message"] for e in after["events"]][-3:]}  # fmt: skip
                runs.append({"repeat": repeat, "phase": phase, **result})
                print(json.dumps(runs[-1]))
    baseline = statistics.median(r["p99_ms"] for r in runs if r["phase"] == "baseline")
    stressed = statistics.median(r["p99_ms"] for r in runs if r["phase"] == "stressed")
    summary = {
        "baseline_p99_ms": baseline,
        "stressed_p99_ms": stressed,
        "p99_change_pct": (stressed / baseline - 1) * 100,
        "observed_errors": sum(r["errors"] for r in runs),
        "runs": runs,
    }
    path = write_result("isolation", {"machine": machine(), "args": vars(args), **summary})
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    print(f"wrote {path}")


async def _post(url: str, body: bytes) -> int:
    """POST until the flooded model's queue takes it (its queue is full most of the time: 429)."""
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 429:
                    return response.status
            await asyncio.sleep(0.01)
        return 429


if __name__ == "__main__":
    main()
