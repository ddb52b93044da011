"""Benchmark 2 - client capacity and the client's own timing error.

Capacity: mlway's sim server at zero latency (every chunk written at once, 16 tokens per response,
one token per chunk) pinned to core 0; each load tester pinned to core 1; same workload for all.
  - closed loop: 64 concurrent streams for a fixed time -> completed requests/s and content chunks/s;
  - open loop: constant arrivals at increasing target rates -> achieved send and completion rates and
    each tool's send lag (sent - scheduled) p99; a tool "keeps" a rate when it sends and completes
    >= 95% of it without errors. The ladder stops for a tool after its first rate it does not keep.
Timing error: the sim at TTFT 50 ms, ITL 10 ms, one user (no queueing anywhere): measured minus
configured TTFT and chunk gap, p50/p99. This is an upper bound on the client's own error: it also
holds the server's lateness and the loopback.

    .venv/bin/python benchmarks/bench/capacity.py
    .venv/bin/python benchmarks/bench/capacity.py --tools mlway,guidellm --duration 10 --rates 250,1000,4000

Writes benchmarks/bench/results/capacity.md and capacity.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    AIPERF,
    GUIDELLM,
    MLWAY,
    RUNS_DIR,
    TOKENIZER_DIR,
    TOOLS,
    Dist,
    Measured,
    Workload,
    machine,
    machine_markdown,
    ms,
    require,
    run_tool,
    shell,
    sim_server,
    sim_server_command,
    table,
    write_results,
)

KEEP = 0.95
TIMING_TTFT, TIMING_ITL = 0.050, 0.010


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending per run")
    p.add_argument("--concurrency", type=int, default=64, help="closed-loop streams")
    p.add_argument("--rates", default="100,200,400,800,1600,3200", help="open-loop target ladder (req/s)")
    p.add_argument("--input-tokens", type=int, default=64)
    p.add_argument("--output-tokens", type=int, default=16)
    p.add_argument("--timing-requests", type=int, default=300)
    p.add_argument("--skip", default="", help="comma list of parts to skip: closed, open, timing")
    p.add_argument("--no-write", action="store_true")
    return p.parse_args()


def brief(m: Measured) -> str:
    lag = f" lag p99 {ms(m.send_lag.p99):.2f} ms" if m.send_lag else ""
    send = f" send {m.send_rate:.0f}/s" if m.send_rate else ""
    return (
        f"ok {m.ok} err {m.errors} {m.req_s:.0f} req/s {m.out_tok_s:.0f} chunks/s{send}{lag} "
        f"cpu {m.cpu} wall {m.wall_s:.0f} s"
    )


def keeps(m: Measured) -> bool:
    if m.target_rate is None or m.errors:
        return False
    send = m.send_rate or 0.0
    return send >= KEEP * m.target_rate and m.req_s >= KEEP * m.target_rate


def closed_loop(url: str, tools: list[str], args: argparse.Namespace) -> list[Measured]:
    work = Workload(
        url=url, model="mlway-sim", input_tokens=args.input_tokens, output_tokens=args.output_tokens,
        concurrency=args.concurrency, duration=args.duration, warmup=args.concurrency,
    )  # fmt: skip
    results = []
    for tool in tools:
        print(f"closed loop c{args.concurrency}: {tool} ...", flush=True)
        m = run_tool(
            tool, work, RUNS_DIR / "capacity" / f"closed-c{args.concurrency}-{tool}", timeout=args.duration + 240
        )
        print("   ", brief(m), flush=True)
        results.append(m)
    return results


def open_loop(url: str, tools: list[str], args: argparse.Namespace) -> dict[str, list[Measured]]:
    rates = [float(r) for r in args.rates.split(",")]
    ladders: dict[str, list[Measured]] = {}
    for tool in tools:
        ladders[tool] = []
        for rate in rates:
            work = Workload(
                url=url, model="mlway-sim", input_tokens=args.input_tokens, output_tokens=args.output_tokens,
                rate=rate, duration=args.duration, warmup=0,
            )  # fmt: skip
            print(f"open loop {rate:g}/s: {tool} ...", flush=True)
            try:
                m = run_tool(tool, work, RUNS_DIR / "capacity" / f"open-r{rate:g}-{tool}", timeout=args.duration + 240)
            except RuntimeError as exc:
                print(f"    failed: {exc}", flush=True)
                m = Measured(tool=tool, label=work.label, command=[], wall_s=math.nan, target_rate=rate)
                m.extra["failure"] = str(exc)[:2000]
            print(f"    keeps={keeps(m)}", brief(m), flush=True)
            ladders[tool].append(m)
            if not keeps(m):
                break
    return ladders


def timing_error(tools: list[str], args: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    rows = []
    with sim_server(TIMING_TTFT, TIMING_ITL) as url:
        work = Workload(
            url=url, model="mlway-sim", input_tokens=args.input_tokens, output_tokens=args.output_tokens,
            concurrency=1, requests=args.timing_requests, warmup=5,
        )  # fmt: skip
        for tool in tools:
            print(f"timing error c1: {tool} ...", flush=True)
            before = sim_lateness(url)
            m = run_tool(tool, work, RUNS_DIR / "capacity" / f"timing-{tool}", timeout=600)
            row: dict[str, Any] = {"tool": tool, "command": shell(m.command)}
            row["server_lateness"] = lateness_summary(before, sim_lateness(url))
            if tool == "mlway":
                ttft_err, gap_err = _mlway_errors(Path(m.extra["records"]))
                row["ttft_err"] = Dist.of(ttft_err)
                row["itl_err"] = Dist.of(gap_err)
                row["ttft_err_max"] = float(np.max(ttft_err))
                row["itl_err_min"], row["itl_err_max"] = float(np.min(gap_err)), float(np.max(gap_err))
            else:
                row["ttft_err"] = _shift(m.ttft, TIMING_TTFT)
                # aiperf: pooled chunk gaps; guidellm has only per-request averages of the gaps.
                row["itl_err"] = _shift(m.itl or m.tpot, TIMING_ITL)
                row["itl_kind"] = "chunk gaps" if m.itl else "per-request mean gap (no chunk gaps reported)"
            rows.append(row)
            e1, e2 = row["ttft_err"], row["itl_err"]
            print(f"    TTFT err p50 {ms(e1.p50):.3f} p99 {ms(e1.p99):.3f} ms; ITL err p50 {ms(e2.p50):.3f} "
                  f"p99 {ms(e2.p99):.3f} ms", flush=True)  # fmt: skip
        how = sim_server_command(TIMING_TTFT, TIMING_ITL)
    return rows, how


def sim_lateness(url: str) -> dict[str, float]:
    """The sim's own chunk-write lateness histogram (cumulative buckets, sum, count) from /metrics."""
    found: dict[str, float] = {}
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if not line.startswith("mlway_sim_chunk_lateness_seconds"):
                continue
            name, value = line.rsplit(" ", 1)
            if "_bucket" in name:
                found[name.split('le="', 1)[1].split('"', 1)[0]] = float(value)
            elif name.startswith("mlway_sim_chunk_lateness_seconds_sum"):
                found["sum"] = float(value)
            elif name.startswith("mlway_sim_chunk_lateness_seconds_count"):
                found["count"] = float(value)
    return found


def lateness_summary(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Mean server lateness and the bucket bounds holding its p50 and p99, over one run."""
    count = after.get("count", 0) - before.get("count", 0)
    if count <= 0:
        return {}
    bounds = sorted((float(k), after[k] - before.get(k, 0)) for k in after if k not in ("sum", "count") and k != "+Inf")
    quantile = lambda q: next((b for b, c in bounds if c >= q * count), math.inf)  # noqa: E731
    return {"writes": int(count), "mean": (after["sum"] - before.get("sum", 0)) / count,
            "p50_at_most": quantile(0.5), "p99_at_most": quantile(0.99)}  # fmt: skip


def _shift(d: Dist | None, by: float) -> Dist:
    if d is None:
        return Dist(math.nan, math.nan, math.nan, math.nan)
    return Dist(d.mean - by, d.p50 - by, d.p95 - by, d.p99 - by, d.count)


def _mlway_errors(records: Path) -> tuple[np.ndarray, np.ndarray]:
    ttft, gaps = [], []
    with records.open("rb") as handle:
        for line in handle:
            r = json.loads(line)
            if r["warmup"] or r["error_kind"] or r["first_content_at"] is None:
                continue
            ttft.append(r["first_content_at"] - r["sent_at"] - TIMING_TTFT)
            gaps.extend(np.diff(r["chunk_times"]) - TIMING_ITL)
    return np.asarray(ttft), np.asarray(gaps)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def main() -> None:
    args = parse_args()
    tools = [t for t in args.tools.split(",") if t]
    need = {"mlway": MLWAY, "guidellm": GUIDELLM, "aiperf": AIPERF}
    require(TOKENIZER_DIR, *(need[t] for t in tools))
    skip = set(args.skip.split(","))
    info = machine()
    started = time.time()
    data: dict[str, Any] = {"machine": info, "args": vars(args)}
    parts: list[str] = []
    summary_rows: list[list[Any]] = []
    sim_how = sim_server_command(0, 0)

    closed: list[Measured] = []
    ladders: dict[str, list[Measured]] = {}
    with sim_server(0.0, 0.0) as url:
        print(f"sim server at zero latency: {url}", flush=True)
        if "closed" not in skip:
            closed = closed_loop(url, tools, args)
        if "open" not in skip:
            ladders = open_loop(url, tools, args)

    if closed:
        by_tool = {m.tool: m for m in closed}
        rows = [
            [
                m.tool,
                m.ok,
                m.errors,
                m.req_s,
                m.out_tok_s,
                m.cpu.get("cpu1"),
                m.cpu.get("cpu0"),
                m.client_cpu_s,
                m.load1,
                ratio(by_tool["mlway"].req_s, m.req_s) if "mlway" in by_tool else None,
            ]
            for m in closed
        ]
        t = table(
            ["tool", "ok", "errors", "requests/s", "content chunks/s", "client core busy", "server core busy",
             "client CPU s (whole process)", "load avg 1 min after", "mlway / tool"],
            rows,
        )  # fmt: skip
        print(f"\nclosed loop, {args.concurrency} streams, {args.duration:g} s\n{t}\n")
        commands = "\n".join(f"    {shell(m.command)}" for m in closed)
        parts.append(
            f"## Closed loop: {args.concurrency} concurrent streams, {args.duration:g} s, "
            f"{args.input_tokens} in / {args.output_tokens} out tokens\n\n{t}\n\ncommands:\n\n{commands}\n"
        )
        data["closed"] = [m.to_dict() for m in closed]
        if "mlway" in by_tool:
            base = by_tool["mlway"]
            summary_rows.extend(
                [f"closed loop c{args.concurrency}: {what}", m.tool, mine, theirs, ratio(mine, theirs)]
                for m in closed
                if m.tool != "mlway"
                for what, mine, theirs in (
                    ("requests/s", base.req_s, m.req_s),
                    ("content chunks/s", base.out_tok_s, m.out_tok_s),
                )
            )

    if ladders:
        rows = []
        best: dict[str, float] = {}
        best_chunks: dict[str, float] = {}
        for tool, ladder in ladders.items():
            for m in ladder:
                kept = keeps(m)
                if kept and m.target_rate:
                    best[tool] = max(best.get(tool, 0.0), m.target_rate)
                    best_chunks[tool] = max(best_chunks.get(tool, 0.0), m.out_tok_s)
                rows.append([
                    tool, m.target_rate, m.send_rate, m.req_s, m.out_tok_s, ms(m.send_lag.p50) if m.send_lag else None,
                    ms(m.send_lag.p99) if m.send_lag else None, m.errors, m.cpu.get("cpu1"), m.cpu.get("cpu0"),
                    m.load1, "yes" if kept else "no",
                ])  # fmt: skip
        t = table(
            ["tool", "target/s", "sent/s", "completed/s", "chunks/s", "send lag p50 ms", "send lag p99 ms", "errors",
             "client core", "server core", "load 1 min", "kept"],
            rows,
        )  # fmt: skip
        kept_t = table(
            ["tool", "highest kept rate (req/s)", "content chunks/s there", "mlway / tool"],
            [
                [tool, best.get(tool), best_chunks.get(tool), ratio(best.get("mlway"), best.get(tool))]
                for tool in ladders
            ],
        )
        print(f"\nopen loop, constant arrivals, {args.duration:g} s per rate\n{t}\n\n{kept_t}\n")
        commands = "\n".join(f"    {shell(m.command)}" for ladder in ladders.values() for m in ladder if m.command)
        parts.append(
            f"## Open loop: constant arrivals, {args.duration:g} s per target rate\n\n"
            f"A rate is kept when the tool sends and completes >= {KEEP:.0%} of it with no errors. Send lag is "
            "each tool's own (sent - scheduled): mlway `queue_time`; guidellm `request_start - targeted_start`; "
            "aiperf `request_start_ns - credit_issued_ns` (its credit is issued at the scheduled time).\n\n"
            f"{t}\n\n{kept_t}\n\ncommands:\n\n{commands}\n"
        )
        data["open"] = {tool: [m.to_dict() for m in ladder] for tool, ladder in ladders.items()}
        data["open_best"] = best
        summary_rows.extend(
            ["open loop: highest kept rate (req/s)", tool, best.get("mlway"), best.get(tool),
             ratio(best.get("mlway"), best.get(tool))]
            for tool in ladders
            if tool != "mlway" and "mlway" in best
        )  # fmt: skip

    if "timing" not in skip:
        rows_t, how = timing_error(tools, args)
        t = table(
            ["tool", "TTFT - 50 ms p50", "p99", "chunk gap - 10 ms p50", "p99", "gap measure",
             "server write lateness mean", "server p99 <="],
            [[r["tool"], ms(r["ttft_err"].p50), ms(r["ttft_err"].p99), ms(r["itl_err"].p50), ms(r["itl_err"].p99),
              r.get("itl_kind", "chunk gaps"), ms(r["server_lateness"].get("mean")),
              ms(r["server_lateness"].get("p99_at_most"))] for r in rows_t],
        )  # fmt: skip
        print(f"\ntiming error (ms), 1 user\n{t}\n")
        commands = "\n".join(f"    {r['command']}" for r in rows_t)
        mlway_row = next((r for r in rows_t if r["tool"] == "mlway"), None)
        extra = ""
        if mlway_row:
            extra = (
                f"\nmlway extremes: TTFT error max {mlway_row['ttft_err_max'] * 1e3:.3f} ms; chunk-gap error "
                f"min {mlway_row['itl_err_min'] * 1e3:.3f} ms, max {mlway_row['itl_err_max'] * 1e3:.3f} ms "
                "(a late chunk makes the next gap short by the same amount).\n"
            )
        parts.append(
            f"## Timing error: sim server TTFT 50 ms, ITL 10 ms, 1 user, {args.timing_requests} requests\n\n"
            f"server: `{how}`\n\nmeasured minus configured delay, in ms (server lateness and loopback included, "
            f"so an upper bound on each client's own error):\n\n{t}\n{extra}\ncommands:\n\n{commands}\n"
        )
        data["timing"] = [{k: (v.__dict__ if isinstance(v, Dist) else v) for k, v in r.items()} for r in rows_t]
        if mlway_row:
            summary_rows.append(
                [
                    "mlway timing error p99 (ms): TTFT / chunk gap",
                    "goal < 1 ms",
                    ms(mlway_row["ttft_err"].p99),
                    ms(mlway_row["itl_err"].p99),
                    None,
                ]
            )

    summary = table(["measure", "vs", "mlway", "other", "ratio mlway / other"], summary_rows)
    print(summary)
    if args.no_write:
        return
    markdown = (
        "# Benchmark 2: client capacity and timing error\n\n"
        f"{machine_markdown(info)}- wall time: {time.time() - started:.0f} s\n"
        f"- reproduce: `.venv/bin/python benchmarks/bench/capacity.py --duration {args.duration:g} "
        f"--concurrency {args.concurrency} --rates {args.rates}`\n"
        f"- server: `{sim_how}` (16 tokens per response here: `--output-tokens {args.output_tokens}`, one token "
        "per chunk); every client: `taskset -c 1`; the same tokenizer (`.cache/llm/tiny-llama`) and "
        f"{args.input_tokens}-token prompts for all. Core busy shares come from /proc/stat over each run "
        "(other work on this shared machine shows up there too).\n\n"
        f"## Summary (ratios from this run)\n\n{summary}\n\n" + "\n".join(parts)
    )
    path = write_results("capacity", markdown, data)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
