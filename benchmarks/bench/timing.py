"""Benchmark 2b - mlway's own timing error, against the simulated server's known delays.

The sim runs with TTFT 50 ms and ITL 10 ms, one token per chunk, on core 0, with a batch and KV
cache far larger than any load here (``max_batch`` 100,000, no batch slowdown), so nothing ever
queues: every request's first chunk is due exactly 50 ms after it reaches the engine and every next
chunk 10 ms after the previous one. ``mlway bench run`` runs on core 1 at several loads.

Per request and per chunk, two errors:
  - raw: what mlway measured minus the known delay (TTFT - 50 ms; each chunk gap - 10 ms). This holds
    the server's own lateness (its event loop shares one core with all the streams), the loopback and
    the client's error.
  - client: what mlway measured minus what the server actually did, from the server's own stamps
    (``stamped_sim.py``: perf_counter right after each write, beside the scheduled time):
    TTFT error = (first chunk - sent, client) - (first write - arrival, server); gap error = client
    gap - server's gap between the writes carrying those chunks. No clock is shared: only
    differences on each side are compared. Client records and server responses are paired in send /
    arrival order (checked: the residual of (client send - server arrival) around its median is
    reported; a wrong pairing would show up as whole inter-arrival times).

    .venv/bin/python benchmarks/bench/timing.py
    .venv/bin/python benchmarks/bench/timing.py --loads c1,r200 --no-write

Writes benchmarks/bench/results/timing.md and timing.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    BENCH_DIR,
    MLWAY,
    ROOT,
    RUNS_DIR,
    SERVER_CPU,
    TOKENIZER_DIR,
    Workload,
    machine,
    machine_markdown,
    mlway_command,
    require,
    run_logged,
    shell,
    table,
    write_results,
)

TTFT, ITL = 0.050, 0.010
SIM = {"ttft": TTFT, "itl": ITL, "max_batch": 100_000, "kv_cache_tokens": 100_000_000, "batch_slowdown": 0.0}
READY = "mlway-sim-server ready "
QS = (50, 99, 99.9)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loads", default="c1,c16,c64,r50,r200,r400", help="cN closed loop, rN open loop (req/s)")
    p.add_argument("--seconds", type=float, default=8.0, help="about this long per load (c1: 100 requests)")
    p.add_argument("--input-tokens", type=int, default=64)
    p.add_argument("--output-tokens", type=int, default=16)
    p.add_argument("--no-write", action="store_true")
    return p.parse_args()


@contextlib.contextmanager
def stamped_sim(trace: Path) -> Iterator[str]:
    cmd = ["taskset", "-c", str(SERVER_CPU), sys.executable, str(BENCH_DIR / "stamped_sim.py"), str(trace)]
    proc = subprocess.Popen([*cmd, json.dumps(SIM)], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith(READY):
            raise SystemExit(f"stamped sim did not start: {line!r}")
        yield line.removeprefix(READY).strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def workload(load: str, url: str, args: argparse.Namespace) -> Workload:
    n = float(load[1:])
    per_request = TTFT + ITL * (args.output_tokens - 1)
    common = {"url": url, "model": "mlway-sim", "input_tokens": args.input_tokens, "output_tokens": args.output_tokens}
    if load.startswith("c"):
        users = int(n)
        count = 100 if users == 1 else users * max(1, round(args.seconds / per_request))
        return Workload(**common, concurrency=users, requests=count, warmup=max(5, users))
    return Workload(**common, rate=n, requests=round(n * args.seconds), warmup=0)


def quantiles(values: list[float] | np.ndarray) -> dict[str, float]:
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {}
    found = {f"p{q:g}": float(v) for q, v in zip(QS, np.percentile(data, QS), strict=True)}
    return found | {"max": float(data.max()), "min": float(data.min()), "n": int(data.size)}


def analyse(records_path: Path, trace_path: Path) -> dict[str, Any]:
    records = [json.loads(line) for line in records_path.open("rb") if line.strip()]
    records = [r for r in records if r["sent_at"] == r["sent_at"]]  # sent (not NaN)
    records.sort(key=lambda r: r["sent_at"])
    server = [json.loads(line) for line in trace_path.open("rb") if line.strip()]
    server.sort(key=lambda s: s["arrived"])
    if len(records) != len(server):
        raise SystemExit(f"{len(records)} client records but {len(server)} server responses: cannot pair")
    offsets = np.array([r["sent_at"] - s["arrived"] for r, s in zip(records, server, strict=True)])
    residual = np.abs(offsets - np.median(offsets))
    raw_ttft, raw_gap, cl_ttft, cl_gap, srv_first, srv_late, srv_parse = [], [], [], [], [], [], []
    for r, s in zip(records, server, strict=True):
        if r["warmup"] or r["error_kind"] or not r["chunk_times"]:
            continue
        c = r["chunk_times"]
        # server send time of the write that carried token k (1-based): first write with emitted >= k
        sent_of = [s["sent"][next(i for i, e in enumerate(s["emitted"]) if e >= k)] for k in range(1, len(c) + 1)]
        raw_ttft.append(c[0] - r["sent_at"] - TTFT)
        cl_ttft.append((c[0] - r["sent_at"]) - (sent_of[0] - s["arrived"]))
        srv_first.append(sent_of[0] - s["arrived"] - TTFT)
        for k in range(1, len(c)):
            raw_gap.append(c[k] - c[k - 1] - ITL)
            cl_gap.append((c[k] - c[k - 1]) - (sent_of[k] - sent_of[k - 1]))
        srv_parse.append(s["arrived"] - s["entered"])
        srv_late.extend(np.subtract(s["sent"], s["due"]).tolist())
    return {
        "raw_ttft": quantiles(raw_ttft),
        "raw_gap": quantiles(raw_gap),
        "client_ttft": quantiles(cl_ttft),
        "client_gap": quantiles(cl_gap),
        "server_ttft": quantiles(srv_first),
        "server_write_lateness": quantiles(srv_late),
        "server_handler": quantiles(srv_parse),
        "pairing_residual": quantiles(residual),
        "send_to_engine": quantiles(offsets - offsets.min()),
    }


def run_load(load: str, args: argparse.Namespace) -> dict[str, Any]:
    out = RUNS_DIR / "timing" / load
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    trace = out.parent / f"{load}-server.jsonl"
    with stamped_sim(trace) as url:
        work = workload(load, url, args)
        cmd = mlway_command(work, out)
        used = run_logged(cmd, out.parent / f"{load}.log", timeout=600, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    time.sleep(0.2)
    run = json.loads((out / "run.json").read_text())
    point = run["points"][0]
    found = analyse(out / point["records_path"], trace)
    return {
        "load": load,
        "command": shell(cmd),
        "requests": point["requests"],
        "ok": point["ok"],
        "request_rate": point["request_rate"],
        "cpu": used.cpu,
        "load1": used.load1,
        **found,
    }


def ms(d: dict[str, float], key: str) -> str:
    return f"{d[key] * 1e3:.3f}" if key in d else "-"


def main() -> None:
    args = parse_args()
    require(MLWAY, TOKENIZER_DIR)
    info = machine()
    rows = []
    for load in args.loads.split(","):
        print(f"{load} ...", flush=True)
        row = run_load(load, args)
        rows.append(row)
        print(
            f"   raw TTFT p99 {ms(row['raw_ttft'], 'p99')} gap p99 {ms(row['raw_gap'], 'p99')} | client TTFT p99 "
            f"{ms(row['client_ttft'], 'p99')} gap p99 {ms(row['client_gap'], 'p99')} | server late p99 "
            f"{ms(row['server_write_lateness'], 'p99')} ms | pairing residual max {ms(row['pairing_residual'], 'max')}"
            f" | cpu {row['cpu']}",
            flush=True,
        )

    def block(key: str) -> list[list[Any]]:
        return [
            [r["load"], r["ok"], r[key].get("n"), ms(r[key], "p50"), ms(r[key], "p99"), ms(r[key], "p99.9"),
             ms(r[key], "min"), ms(r[key], "max")]
            for r in rows
        ]  # fmt: skip

    head = ["load", "ok requests", "samples", "p50 ms", "p99 ms", "p99.9 ms", "min ms", "max ms"]
    sections = [
        ("client TTFT error: mlway's TTFT minus the server's own (first write - arrival)", "client_ttft"),
        ("client chunk-gap error: mlway's gap minus the server's gap between the same writes", "client_gap"),
        ("raw TTFT error: mlway's TTFT minus the configured 50 ms", "raw_ttft"),
        ("raw chunk-gap error: mlway's gap minus the configured 10 ms", "raw_gap"),
        ("server: first write - arrival - 50 ms (the sim's own TTFT lateness)", "server_ttft"),
        ("server: every write's lateness (sent - scheduled)", "server_write_lateness"),
        ("server: handler start to engine arrival (JSON body read and checked; inside the client TTFT error)",
         "server_handler"),
        ("pairing check: |client send - server arrival - median| (a wrong pair shows whole arrival gaps)",
         "pairing_residual"),
    ]  # fmt: skip
    text = "\n".join(f"### {title}\n\n{table(head, block(key))}\n" for title, key in sections)
    loads = table(
        ["load", "requests/s", "client core busy", "server core busy", "load avg 1 min after"],
        [[r["load"], r["request_rate"], r["cpu"].get("cpu1"), r["cpu"].get("cpu0"), r["load1"]] for r in rows],
    )
    print(text)
    if args.no_write:
        return
    commands = "\n".join(f"    {r['command']}" for r in rows)
    markdown = (
        "# Benchmark 2b: mlway's own timing error against the sim's known delays\n\n"
        f"{machine_markdown(info)}"
        f"- reproduce: `.venv/bin/python benchmarks/bench/timing.py --loads {args.loads} --seconds {args.seconds:g}`\n"
        f"- server: `taskset -c 0 python benchmarks/bench/stamped_sim.py TRACE '{json.dumps(SIM)}'` (the sim "
        "with a per-write stamp; `mlway bench sim-server --ttft 50ms --itl 10ms --max-batch 100000 "
        "--kv-cache-tokens 100000000` otherwise)\n- loads: cN = N closed-loop users, rN = constant arrivals at "
        f"N req/s; {args.input_tokens} in / {args.output_tokens} out tokens, one token per chunk\n\n"
        f"{(__doc__ or '').split('Per request', 1)[1].split('    .venv', 1)[0].strip()}\n\n{loads}\n\n{text}\n"
        f"commands (client, `taskset -c 1`):\n\n{commands}\n"
    )
    path = write_results("timing", markdown, {"machine": info, "args": vars(args), "sim": SIM, "loads": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
