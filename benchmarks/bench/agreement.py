"""Benchmark 1 - agreement: mlway bench, guidellm and aiperf against the same server and workload.

For each server (mlway's sim server with known delays; the real vLLM CPU server with the tiny
random-weight model) and each concurrency, the three tools run one after another with the same
input/output token counts and tokenizer directory, and their TTFT, TPOT, chunk ITL, request/s and
output tokens/s are compared with mlway's. mlway runs twice (first and last), so the table also
shows how far two runs of the *same* tool drift apart on this shared 2-core machine: a peer's
difference is only meaningful beyond that noise floor.

    .venv/bin/python benchmarks/bench/agreement.py                  # sim + vllm, c4 and c16
    .venv/bin/python benchmarks/bench/agreement.py --servers sim --concurrency 4 --requests 100

Writes benchmarks/bench/results/agreement.md and agreement.json.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    AIPERF,
    GUIDELLM,
    MLWAY,
    ROOT,
    RUNS_DIR,
    SERVER_CPU,
    TOKENIZER_DIR,
    TOOLS,
    Dist,
    Measured,
    Workload,
    machine,
    machine_markdown,
    ms,
    pct_diff,
    require,
    run_mlway,
    run_tool,
    shell,
    sim_server,
    sim_server_command,
    table,
    write_results,
)

SIM_TTFT, SIM_ITL = 0.050, 0.010
GOAL_PCT = 10.0

FORMULAS = """\
### The same names, different formulas (read from each tool's source)

| metric | mlway 0.1 | guidellm 0.8.1 | aiperf 0.13.0 |
|---|---|---|---|
| start of a request | `sent_at`: `perf_counter()` just before `session.post` (includes taking a pooled connection) | `request_start`: `time.time()` at httpx's first header write (trace hook) | `start_perf_ns` when the worker starts the request |
| TTFT | first SSE chunk with non-empty text - `sent_at` | first chunk with content (`first_token_iteration`) - `request_start` | first content response - request start |
| TPOT (per-token decode time) | `(E2E - TTFT) / (output_tokens - 1)`, E2E ends at `[DONE]` | called **ITL**: `(last_token - first_token) / (output_tokens - 1)`, ends at the *last content chunk* | called **ITL**: `(request_latency - TTFT) / (OSL - 1)`, request_latency ends at the *last content response* |
| guidellm "TPOT" | - | `(last_token - request_start) / output_tokens`: includes TTFT, so it is *not* mlway's TPOT (shown as a note) | - |
| ITL (chunk gaps) | every gap between content chunks, pooled | not reported | `inter_chunk_latency`, pooled |
| output tokens | server `usage` (tokenizer, then chunk count, as fallbacks) | server `usage` when present | re-tokenizes the output text unless `--use-server-token-count` (used here: otherwise the tiny tokenizer counts 2x the sim's tokens and halves aiperf's ITL) |
| request/s | ok / (last end - first send), warm-up excluded (none here: `--warmup 0`) | duration-weighted mean of local completion rates over [first start, last end] = count / window | count / (max response - min request timestamp) |
| output tokens/s | sum(usage completion tokens) / same window | token-timestamp rate over the same window | sum(output tokens) / same window |
| percentiles | numpy linear interpolation | own (close to numpy's) | numpy linear interpolation |

So TPOT differs by construction by the *tail* (finish chunk, usage chunk and `[DONE]` after the
last content chunk) divided by `(output_tokens - 1)`: mlway records every chunk time, so the table
shows mlway's own records put through the peers' formula ("mlway TPOT, peers' formula") to separate
formula from measurement.
"""  # noqa: E501


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="sim,vllm", help="comma list of sim, vllm")
    p.add_argument("--concurrency", default="4,16", help="comma list of concurrencies")
    p.add_argument("--requests", type=int, default=200, help="measured requests per tool and point")
    p.add_argument("--input-tokens", type=int, default=128)
    p.add_argument("--output-tokens", type=int, default=64)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--vllm-rounds", type=int, default=3, help="interleaved rounds on vLLM (medians compared)")
    p.add_argument("--no-repeat", action="store_true", help="skip mlway's second run (the noise floor)")
    p.add_argument("--no-write", action="store_true", help="print only, do not write results/")
    return p.parse_args()


@contextlib.contextmanager
def server(name: str) -> Iterator[tuple[str, str, str]]:
    """(base_url, model, how it was started)."""
    if name == "sim":
        with sim_server(SIM_TTFT, SIM_ITL, max_batch=256) as url:
            yield url, "mlway-sim", sim_server_command(SIM_TTFT, SIM_ITL, max_batch=256)
    elif name == "vllm":
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import start_vllm, vllm_command  # noqa: PLC0415

        with start_vllm() as srv:
            port = int(srv.base_url.rsplit(":", 1)[1].split("/", 1)[0])
            pids = pin_tree(_listener_pid(port), SERVER_CPU)
            print(f"vllm pinned to core {SERVER_CPU}: pids {pids}", flush=True)
            how = shell(vllm_command(0)).replace("--port 0", "--port P")
            yield (
                srv.base_url,
                srv.model,
                (
                    f"HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 {how}, then `taskset -a -p -c {SERVER_CPU}` on its "
                    "API server and engine processes"
                ),
            )
    else:
        sys.exit(f"unknown server {name!r}: choose sim or vllm")


def _listener_pid(port: int) -> int:
    """The process whose command line serves ``--port port`` (the vLLM API server)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"vllm.entrypoints.openai.api_server" in argv and str(port).encode() in argv:
            return int(proc.name)
    raise RuntimeError(f"no vLLM process found for port {port}")


def pin_tree(root: int, cpu: int) -> list[int]:
    """Pin ``root`` and every descendant (all their threads) to ``cpu``.

    vLLM CPU binds its engine's OpenMP threads to core 0 and leaves its API server free to run on
    core 1, where the load tester runs: a busy client then starves the server's front end (and the
    reverse), and every tool measures that fight instead of the server. Pinned, the server owns core 0.
    """
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    for pid in tree:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], capture_output=True, check=False)
    return tree


def run_point(
    server_name: str, url: str, model: str, concurrency: int, args: argparse.Namespace, tools: list[str]
) -> list[Measured]:
    work = Workload(
        url=url, model=model, input_tokens=args.input_tokens, output_tokens=args.output_tokens,
        concurrency=concurrency, requests=args.requests, warmup=0,
    )  # fmt: skip
    rounds = args.vllm_rounds if server_name == "vllm" else 1
    if rounds > 1:
        order = list(tools) * rounds  # interleaved rounds; the per-tool median is compared
    else:
        order = list(tools) + (["mlway"] if "mlway" in tools and not args.no_repeat else [])
    results = []
    for i, tool in enumerate(order):
        out = RUNS_DIR / "agreement" / f"{server_name}-c{concurrency}-{i}-{tool}"
        print(f"  {server_name} c{concurrency}: {tool} ...", flush=True)
        m = run_tool(tool, work, out)
        if rounds == 1 and i > 0 and tool == "mlway":
            m.tool = "mlway (repeat)"
        print(
            f"    ok {m.ok} err {m.errors}  TTFT p50 {ms(m.ttft.p50 if m.ttft else None) or 0:.2f} ms  "
            f"TPOT p50 {ms(m.tpot.p50 if m.tpot else None) or 0:.3f} ms  {m.req_s:.2f} req/s  "
            f"{m.out_tok_s:.1f} tok/s  (wall {m.wall_s:.0f} s, cpu {m.cpu})",
            flush=True,
        )
        results.append(m)
    return results


def median_of_rounds(runs: list[Measured]) -> list[Measured]:
    """One Measured per tool holding the median over its rounds of every compared statistic, plus
    mlway's spread over its rounds (the noise floor) as a pseudo-tool."""
    by_tool: dict[str, list[Measured]] = {}
    for m in runs:
        by_tool.setdefault(m.tool, []).append(m)
    if all(len(v) == 1 for v in by_tool.values()):
        return runs
    merged = []
    for tool, ms_ in by_tool.items():
        first = ms_[0]
        agg = Measured(tool=f"{tool} (median of {len(ms_)})", label=first.label, command=first.command, wall_s=0.0)
        agg.ok, agg.errors = sum(m.ok for m in ms_), sum(m.errors for m in ms_)
        agg.output_tokens_mean = statistics.median(m.output_tokens_mean for m in ms_)
        agg.req_s = statistics.median(m.req_s for m in ms_)
        agg.out_tok_s = statistics.median(m.out_tok_s for m in ms_)
        for attr in ("ttft", "tpot", "itl"):
            dists = [getattr(m, attr) for m in ms_ if getattr(m, attr) is not None]
            if dists:
                setattr(
                    agg, attr,
                    Dist(*(statistics.median(getattr(d, k) for d in dists) for k in ("mean", "p50", "p95", "p99"))),
                )  # fmt: skip
        agg.extra = dict(first.extra)
        for key in ("tpot_last_content", "tail_after_last_content"):
            if all(key in m.extra for m in ms_):
                agg.extra[key] = {k: statistics.median(m.extra[key][k] for m in ms_) for k in ("mean", "p50")}
        agg.extra["rounds"] = [m.to_dict() for m in ms_]
        merged.append(agg)
    mlway_runs = by_tool.get("mlway", [])
    if len(mlway_runs) >= 2:
        # The noise floor: mlway's own round furthest from its median, shown like a peer.
        med = merged[0]
        worst = max(mlway_runs, key=lambda m: abs(m.req_s - med.req_s))
        floor = Measured(**{**worst.__dict__, "tool": "mlway (worst round)"})
        merged.append(floor)
    return merged


METRICS: list[tuple[str, str, str]] = [
    ("TTFT mean (ms)", "ttft", "mean"),
    ("TTFT p50 (ms)", "ttft", "p50"),
    ("TTFT p95 (ms)", "ttft", "p95"),
    ("TPOT mean (ms) [peers: ITL]", "tpot", "mean"),
    ("TPOT p50 (ms) [peers: ITL]", "tpot", "p50"),
    ("TPOT p95 (ms) [peers: ITL]", "tpot", "p95"),
    ("chunk ITL p50 (ms) [aiperf: ICL]", "itl", "p50"),
    ("chunk ITL mean (ms) [aiperf: ICL]", "itl", "mean"),
    ("request/s", "req_s", ""),
    ("output tokens/s", "out_tok_s", ""),
]


def value(m: Measured, attr: str, stat: str) -> float | None:
    v = getattr(m, attr)
    if stat:
        return None if v is None else ms(getattr(v, stat))
    return float(v)


def comparison(results: list[Measured]) -> tuple[str, list[dict[str, Any]], float]:
    """The markdown table of one point, its rows as data, and the largest |difference| vs mlway."""
    ref = results[0]
    others = results[1:]
    headers = ["metric", ref.tool] + [h for m in others for h in (m.tool, "diff %")]
    rows, data, worst = [], [], 0.0
    for name, attr, stat in METRICS:
        base = value(ref, attr, stat)
        row: list[Any] = [name, base]
        item: dict[str, Any] = {"metric": name, "mlway": base}
        for m in others:
            v = value(m, attr, stat)
            d = pct_diff(v, base)
            row += [v, None if d is None else f"{d:+.1f}%"]
            item[m.tool] = v
            item[f"{m.tool} diff %"] = d
            if d is not None and m.tool.startswith(("guidellm", "aiperf")):
                worst = max(worst, abs(d))
        rows.append(row)
        data.append(item)
    # mlway's own records through the peers' TPOT formula (ends at the last content chunk).
    peer_tpot = ref.extra.get("tpot_last_content")
    if peer_tpot:
        for stat in ("mean", "p50"):
            base = ms(peer_tpot[stat])
            row = [f"TPOT {stat} (ms), mlway records, peers' formula", base]
            item = {"metric": row[0], "mlway": base}
            for m in others:
                v = value(m, "tpot", stat)
                d = pct_diff(v, base)
                row += [v, None if d is None else f"{d:+.1f}%"]
                item[m.tool] = v
                item[f"{m.tool} diff %"] = d
            rows.append(row)
            data.append(item)
    return table(headers, rows), data, worst


def explain(server_name: str, results: list[Measured]) -> list[str]:
    """Per-point notes computed from this run's numbers."""
    ref = results[0]
    notes = []
    tail = ref.extra.get("tail_after_last_content")
    if tail and ref.tpot and ref.extra.get("tpot_last_content"):
        out = ref.output_tokens_mean
        notes.append(
            f"mlway: the tail after the last content chunk (finish + usage chunks + [DONE]) is "
            f"{tail['mean'] * 1e3:.3f} ms on average; over (output_tokens - 1) = {out - 1:.0f} that adds "
            f"{tail['mean'] / max(out - 1, 1) * 1e3:.4f} ms to mlway's TPOT "
            f"({ms(ref.tpot.mean):.3f} ms by mlway's formula vs {ms(ref.extra['tpot_last_content']['mean']):.3f} ms "
            "by the peers')."
        )
    for m in results[1:]:
        if m.tool.startswith("guidellm") and m.extra.get("time_per_output_token_incl_ttft"):
            g = m.extra["time_per_output_token_incl_ttft"]
            notes.append(
                f"guidellm's own 'TPOT' column is (last token - start) / tokens = {g['mean'] * 1e3:.3f} ms mean: "
                "it includes TTFT, so it is compared nowhere; its 'ITL' is the TPOT row above."
            )
        if m.tool.startswith("guidellm") and m.extra.get("mlway_formula_req_s"):
            notes.append(
                f"guidellm request/s recomputed from its per-request records with mlway's formula "
                f"(ok / (last end - first start)): {m.extra['mlway_formula_req_s']:.3f} vs its reported "
                f"{m.req_s:.3f}."
            )
        if m.output_tokens_mean and abs(m.output_tokens_mean - ref.output_tokens_mean) > 0.01:
            notes.append(
                f"{m.tool} counted {m.output_tokens_mean:.2f} output tokens per request vs mlway's "
                f"{ref.output_tokens_mean:.2f}."
            )
    if server_name == "sim":
        notes.append(
            f"Configured server delays: TTFT {SIM_TTFT * 1e3:.0f} ms, ITL {SIM_ITL * 1e3:.0f} ms: a tool's excess "
            "over them is its (and the loopback's) overhead."
        )
    return notes


def main() -> None:
    args = parse_args()
    tools = [t for t in args.tools.split(",") if t]
    need = {"mlway": MLWAY, "guidellm": GUIDELLM, "aiperf": AIPERF}
    require(TOKENIZER_DIR, *(need[t] for t in tools))
    info = machine()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    sections, data_points, worst_all = [], [], {}
    started = time.time()
    for server_name in args.servers.split(","):
        with server(server_name) as (url, model, how):
            print(f"{server_name}: {url} ({how})", flush=True)
            prime = Workload(url=url, model=model, input_tokens=args.input_tokens, output_tokens=args.output_tokens,
                             concurrency=max(concurrencies), requests=2 * max(concurrencies), warmup=0)  # fmt: skip
            run_mlway(prime, RUNS_DIR / "agreement" / f"{server_name}-prime")  # warms the server; not reported
            for c in concurrencies:
                raw = run_point(server_name, url, model, c, args, tools)
                results = median_of_rounds(raw)
                md_table, rows, worst = comparison(results)
                worst_all[f"{server_name} c{c}"] = worst
                print(f"\n{server_name}, {c} concurrent users\n{md_table}\n", flush=True)
                commands = "\n".join(f"    {shell(m.command)}" for m in raw[: len(tools)])
                cpu = ", ".join(f"{m.tool} {m.cpu}" for m in raw)
                notes = "\n".join(f"- {n}" for n in explain(server_name, results))
                sections.append(
                    f"### {server_name}, {c} concurrent users, {args.requests} requests, "
                    f"{args.input_tokens} in / {args.output_tokens} out tokens\n\nserver: `{how}`\n\n{md_table}\n\n"
                    f"{notes}\n- core busy share during each run: {cpu}\n\ncommands:\n\n{commands}\n"
                )
                data_points.append(
                    {
                        "server": server_name,
                        "concurrency": c,
                        "server_command": how,
                        "rows": rows,
                        "worst_peer_diff_pct": worst,
                        "runs": [m.to_dict() for m in raw],
                    }
                )
    verdict = table(
        ["point", "largest |peer - mlway| %", f"within {GOAL_PCT:.0f}%"],
        [[k, v, "yes" if v <= GOAL_PCT else "no"] for k, v in worst_all.items()],
    )
    print(verdict)
    if args.no_write:
        return
    markdown = (
        "# Benchmark 1: agreement with guidellm and aiperf\n\n"
        f"{machine_markdown(info)}- wall time: {time.time() - started:.0f} s\n"
        f"- reproduce: `.venv/bin/python benchmarks/bench/agreement.py --servers {args.servers} "
        f"--concurrency {args.concurrency} --requests {args.requests} --input-tokens {args.input_tokens} "
        f"--output-tokens {args.output_tokens}`\n"
        f"- every tool pinned to core 1 (`taskset -c 1`); the server (sim, or vLLM's API server and engine) to core 0. "
        "Tokenizer: `.cache/llm/tiny-llama` for all. No warm-up requests in any tool (`--warmup 0`); "
        "each server is primed with one unreported mlway run first.\n\n"
        "## Verdict: largest difference of a peer from mlway over the compared metrics\n\n"
        f"{verdict}\n\n(`mlway (repeat)` is the same tool run again: the run-to-run noise floor.)\n\n"
        f"{FORMULAS}\n## Results\n\n" + "\n".join(sections)
    )
    path = write_results("agreement", markdown, {"machine": info, "args": vars(args), "points": data_points})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
