"""Benchmark 3 - memory: a 100,000-request mlway bench run keeps the client's memory bounded.

mlway's sim server at zero latency (pinned to core 0) serves a `mlway bench run` of 100,000 measured
requests at 64 concurrent streams, 16 output tokens each (pinned to core 1). While it runs, the
client's resident memory (VmRSS from /proc/PID/status; VmHWM for the peak) is sampled every 0.1 s
beside the number of records already on disk (lines of requests.jsonl). Bounded memory means: RSS at
100k requests is about RSS at 10k, and every record is in the file.

    .venv/bin/python benchmarks/bench/memory.py
    .venv/bin/python benchmarks/bench/memory.py --requests 20000      # a quicker look

Writes benchmarks/bench/results/memory.md and memory.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    MLWAY,
    ROOT,
    RUNS_DIR,
    TOKENIZER_DIR,
    Workload,
    cpu_busy,
    cpu_times,
    machine,
    machine_markdown,
    mlway_command,
    require,
    shell,
    sim_server,
    sim_server_command,
    table,
    write_results,
)

SAMPLE_S = 0.1


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--input-tokens", type=int, default=64)
    p.add_argument("--output-tokens", type=int, default=16)
    p.add_argument("--no-write", action="store_true")
    return p.parse_args()


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes ({} once it is gone)."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return found


class LineCounter:
    """Counts lines of a growing file by reading only what was appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def update(self) -> int:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return self.lines
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        return self.lines


def main() -> None:
    args = parse_args()
    require(MLWAY, TOKENIZER_DIR)
    info = machine()
    out = RUNS_DIR / "memory" / f"mlway-{args.requests}"
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    samples: list[dict[str, Any]] = []
    with sim_server(0.0, 0.0) as url:
        work = Workload(
            url=url, model="mlway-sim", input_tokens=args.input_tokens, output_tokens=args.output_tokens,
            concurrency=args.concurrency, requests=args.requests, warmup=args.concurrency,
        )  # fmt: skip
        cmd = mlway_command(work, out)
        print(f"$ {shell(cmd)}", flush=True)
        log = out.parent / f"{out.name}.log"
        counter = LineCounter(out / "points" / f"c{args.concurrency}" / "requests.jsonl")
        before = cpu_times()
        start = time.perf_counter()
        with log.open("wb") as handle:
            proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
            last_print = 0.0
            while proc.poll() is None:
                mem = proc_memory(proc.pid)
                if mem:
                    t = time.perf_counter() - start
                    samples.append({"t": round(t, 2), "records": counter.update(), **mem})
                    if t - last_print >= 5:
                        s = samples[-1]
                        print(
                            f"  {t:6.1f} s  {s['records']:>7,} records  RSS {s['VmRSS'] / 2**20:6.1f} MiB", flush=True
                        )
                        last_print = t
                time.sleep(SAMPLE_S)
        wall = time.perf_counter() - start
        busy = cpu_busy(before, cpu_times())
        if proc.returncode != 0:
            raise SystemExit(f"mlway exited {proc.returncode}; see {log}")
    records = counter.update()
    run = json.loads((out / "run.json").read_text())
    point = run["points"][0]
    jsonl = out / point["records_path"]
    peak = max(s.get("VmHWM", 0) for s in samples)

    def rss_at(n: int) -> dict[str, Any] | None:
        return next((s for s in samples if s["records"] >= n), None)

    marks = [1_000, 10_000, *range(20_000, args.requests + 1, 10_000), args.requests]
    rows = []
    for n in sorted(set(marks)):
        s = rss_at(n)
        if s is not None:
            rows.append([f"{n:,}", s["t"], s["VmRSS"] / 2**20])
    last = samples[-1]
    rows.append(["end of run (summary computed, files written)", last["t"], last["VmRSS"] / 2**20])
    at10k, atend = rss_at(10_000), rss_at(args.requests)
    growth = None
    if at10k and atend and atend["records"] > at10k["records"]:
        growth = (atend["VmRSS"] - at10k["VmRSS"]) / (atend["records"] - at10k["records"])
    t = table(["records on disk", "time s", "client RSS MiB"], rows)
    facts = table(
        ["fact", "value"],
        [
            ["measured requests (ok / total)", f"{point['ok']:,} / {point['requests']:,} (+{point['warmup']} warm-up)"],
            ["records in requests.jsonl", f"{records:,}"],
            ["requests.jsonl size", f"{jsonl.stat().st_size / 2**20:.1f} MiB"],
            ["throughput", f"{point['request_rate']:.0f} req/s, {point['output_token_rate']:.0f} tokens/s"],
            ["peak RSS (VmHWM)", f"{peak / 2**20:.1f} MiB"],
            ["RSS at 10k records", f"{at10k['VmRSS'] / 2**20:.1f} MiB" if at10k else "-"],
            [f"RSS at {args.requests // 1000}k records", f"{atend['VmRSS'] / 2**20:.1f} MiB" if atend else "-"],
            ["growth from 10k to the end", f"{growth:.1f} bytes per request" if growth is not None else "-"],
            ["wall time, core busy share", f"{wall:.0f} s, {busy}"],
        ],
    )
    print(f"\n{t}\n\n{facts}")
    if args.no_write:
        return
    markdown = (
        "# Benchmark 3: client memory over a 100,000-request run\n\n"
        f"{machine_markdown(info)}"
        f"- reproduce: `.venv/bin/python benchmarks/bench/memory.py --requests {args.requests}`\n"
        f"- server: `{sim_server_command(0, 0)}`\n- client: `{shell(cmd)}`\n"
        f"- sampling: VmRSS/VmHWM of the client process from /proc every {SAMPLE_S:g} s, beside the lines "
        "already in requests.jsonl (records are flushed every 256).\n\n"
        f"{facts}\n\n## RSS as records accumulate\n\n{t}\n\n"
        "Where the memory goes: records are written to requests.jsonl as each request ends and dropped; "
        "the summary reads them back in one streaming pass, keeping 8 bytes per request and metric plus "
        "4 bytes per inter-chunk gap (float32, exact up to 8 M gaps per point, then a fixed log histogram).\n"
    )
    path = write_results(
        "memory",
        markdown,
        {"machine": info, "args": vars(args), "command": shell(cmd), "samples": samples, "peak_rss": peak,
         "growth_bytes_per_request": growth, "point": {k: v for k, v in point.items() if k != "server_metric_samples"}},
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
