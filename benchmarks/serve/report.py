"""Render the serve benchmarks' JSON results as markdown: results/<name>.md beside results/<name>.json.

Each page gives the machine, commit and date of the run, the exact command (rebuilt from the arguments
the script recorded), and the goal against the measured number. Run after the benchmarks:

    .venv/bin/python benchmarks/serve/report.py
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from common import HERE, machine_markdown

RESULTS = HERE / "results"
NOTES = HERE / "notes"


def command(script: str, args: dict[str, Any] | None) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (args or {}).items())
    return f"flock /tmp/mlway-cpu.lock .venv/bin/python benchmarks/serve/{script} {flags}".rstrip()


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def page(title: str, data: dict[str, Any], commands: list[str], body: str, note: str) -> str:
    notes = NOTES / f"{note}.md"
    extra = "\n## Why, and what it means\n\n" + notes.read_text() if notes.is_file() else ""
    return (
        f"# {title}\n\n{machine_markdown(data['machine'])}- command (from the repository root):\n\n"
        f"```\n{chr(10).join(commands)}\n```\n\n{body}{extra}"
    )


def embeddings(datas: list[dict[str, Any]]) -> str:
    body = "\n".join(_embeddings_run(d) for d in datas)
    return page("Benchmark 1: embeddings/s, `mlway serve` vs sentence-transformers in-process", datas[0],
                [command("embeddings.py", d["args"]) for d in datas], body, "embeddings")  # fmt: skip


def _embeddings_run(data: dict[str, Any]) -> str:
    peers = data["sentence_transformers_per_s"]
    rows = "\n".join(
        f"| sentence-transformers in-process, {k} | {statistics.median(v):.1f} | {', '.join(f'{x:.1f}' for x in v)} |"
        for k, v in peers.items()
    )
    served = ", ".join(f"{r['rate']:.1f}" for r in data["served_runs"])
    ratio, best, goal = data["ratio_vs_best_st"], data["best_sentence_transformers"], data["goal"]
    return (
        f"## worker with {data['args']['threads']} thread(s), {data['args']['concurrency']} users\n\n"
        f"Run {data['machine']['date']}, commit `{data['machine']['commit']}`.\n\n"
        f"| | embeddings/s (median) | runs |\n|---|---|---|\n{rows}\n"
        f"| `mlway serve` ({data['variant']}, {data['args']['threads']} threads), `mlway bench` embeddings load, "
        f"{data['args']['concurrency']} users | {data['served_per_s']:.1f} | {served} |\n\n"
        f"| goal | measured | |\n|---|---|---|\n"
        f"| served >= {goal}x sentence-transformers (its fastest setting here: {best}) | {ratio:.2f}x "
        f"({data['ratio_vs_st_default']:.2f}x vs its default batch 32, 2 threads) | {verdict(ratio >= goal)} |\n\n"
        f"Served p50/p99 per request: "
        + ", ".join(f"{r['p50_ms']:.0f}/{r['p99_ms']:.0f} ms" for r in data["served_runs"])
        + f". Errors: {sum(sum(r['errors'].values()) for r in data['served_runs'])}. "
        f"Load average at the end: {', '.join(f'{x:.2f}' for x in data['load_average'])}.\n\n"
        f"The load command (`mlway bench`): `{data['served_runs'][0]['command']}`\n"
    )


def _binary_rows(data: dict[str, Any]) -> str:
    if "binary_throughput_ratio" not in data:
        return ""
    m, args = data["medians"], data["args"]
    ratio, added = data["binary_throughput_ratio"], data["binary_added_p50_ms"]
    return (
        "With the binary tensor extension (raw bytes after a JSON header, request and response):\n\n"
        "| | raw onnxruntime | `mlway serve` (KServe v2 binary) | goal | |\n|---|---|---|---|---|\n"
        f"| rows/s at saturation ({args['concurrency']} clients) | {m['raw_rows_per_s']:.1f} | "
        f"{m['binary_rows_per_s']:.1f} ({ratio:.1%} of raw) | >= 90% | {verdict(ratio >= 0.9)} |\n"
        f"| p50 latency, one client | {m['raw_p50_ms']:.3f} ms | {m['binary_p50_ms']:.3f} ms "
        f"(+{added:.2f} ms) | < +2 ms | {verdict(added < 2)} |\n\n"
    )


def overhead(datas: list[dict[str, Any]]) -> str:
    parts = []
    for data in datas:
        m, args = data["medians"], data["args"]
        ratio, added = data["throughput_ratio"], data["added_p50_ms"]
        parts.append(
            f"## {args['model']}, batch {args['batch']} ({data['variant']})\n\n"
            f"Run {data['machine']['date']}, commit `{data['machine']['commit']}`.\n\n"
            f"| | raw onnxruntime | `mlway serve` (KServe v2 JSON) | goal | |\n|---|---|---|---|---|\n"
            f"| rows/s at saturation ({args['concurrency']} clients) | {m['raw_rows_per_s']:.1f} | "
            f"{m['served_rows_per_s']:.1f} ({ratio:.1%} of raw) | >= 90% | {verdict(ratio >= 0.9)} |\n"
            f"| p50 latency, one client | {m['raw_p50_ms']:.3f} ms | {m['served_p50_ms']:.3f} ms "
            f"(+{added:.2f} ms) | < +2 ms | {verdict(added < 2)} |\n\n"
            + _binary_rows(data)
            + "Per-repeat values: "
            + "; ".join(f"{k} {', '.join(f'{x:.3g}' for x in v)}" for k, v in data["runs"].items())
            + "\n"
        )
    commands = [command("overhead.py", d["args"]) for d in datas]
    floor = RESULTS / "floor.json"
    if floor.is_file():
        parts.append(_floor(json.loads(floor.read_text())))
        commands.append(command("floor.py", None))
    return page("Benchmark 2: server overhead vs onnxruntime called directly", datas[0], commands,
                "\n".join(parts), "overhead")  # fmt: skip


def _floor(data: dict[str, Any]) -> str:
    m, args, info = data["medians_ms"], data["args"], data["machine"]
    runs = "; ".join(f"{k} {', '.join(f'{x:.2f}' for x in v)}" for k, v in data["runs_ms"].items())
    return (
        f"## The floor: HTTP and a process hop, no mlway code (`floor.py`)\n\n"
        f"Run {info['date']}, commit `{info['commit']}`. A bare ASGI app on the same uvicorn/uvloop/httptools "
        f"stack answers a {args['request_bytes']:,} byte POST with {args['reply_bytes']:,} bytes (MiniLM b8's "
        f"binary request and answer), to the same aiohttp client on core 1:\n\n"
        f"| | p50 beyond the wait |\n|---|---|\n"
        f"| answers at once | {m['http_at_once']:.2f} ms |\n"
        f"| answers after a thread waited {args['wait_ms']:g} ms (the model's time) | {m['http_after_wait']:.2f} ms |"
        f"\n\nAnd the process hop: a small pickled request to a child process (core 0), the same answer back "
        f"pickled over a socketpair:\n\n| | p50 beyond the wait |\n|---|---|\n"
        f"| child answers at once | {m['pipe_at_once']:.2f} ms |\n"
        f"| child works {args['wait_ms']:g} ms first | {m['pipe_after_wait']:.2f} ms |\n\n"
        f"Per-repeat values: {runs}\n"
    )


def density(data: dict[str, Any]) -> str:
    foot = "\n".join(
        f"| {name} | {', '.join(f'{v}: {size}' for v, size in variants.items())} |"
        for name, variants in data["footprints_measured"].items()
    )
    rows = "\n".join(
        f"| {p['budget']} | {p['mode']} | {p['served']} of {p['of']} | {p['memory_used']} | {p['fallbacks']} |"
        for p in data["plans"]
    )
    body = (
        f"Measured footprint of each variant (peak RSS of a real worker after load and inference at batch 8):\n\n"
        f"| model | variants |\n|---|---|\n{foot}\n\n"
        f"| budget | mode | models served | memory used | served by a fallback variant |\n|---|---|---|---|---|\n"
        f"{rows}\n\nWhich variant each model got:\n\n```\n"
        + "\n".join(f"{p['budget']} {p['mode']}: {json.dumps(p['variants'])}" for p in data["plans"])
        + "\n```\n"
    )
    return page("Benchmark 3: density within a 6 GiB and an 8 GiB budget, with and without fallback variants",
                data, [command("density.py", None)], body, "density")  # fmt: skip


def isolation(data: dict[str, Any]) -> str:
    change, errors = data["p99_change_pct"], data["observed_errors"]
    runs = "\n".join(
        f"| {r['repeat']} | {r['phase']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['requests']} | {r['errors']} | "
        f"{r.get('hog_oversized_status', '')} | {r.get('hog_variant_after', '')} |"
        for r in data["runs"]
    )
    body = (
        f"| goal | measured | |\n|---|---|---|\n"
        f"| observed model's p99 within 10% of its baseline | {data['baseline_p99_ms']:.2f} ms -> "
        f"{data['stressed_p99_ms']:.2f} ms ({change:+.1f}%, medians over repeats) | {verdict(change <= 10)} |\n"
        f"| observed model sees zero errors | {errors} errors | {verdict(errors == 0)} |\n\n"
        f"| repeat | phase | p50 ms | p99 ms | requests | errors | hog's oversized request | hog's variant after |\n"
        f"|---|---|---|---|---|---|---|---|\n{runs}\n"
    )
    return page("Benchmark 4: isolation (a flooded neighbour, and a neighbour driven over its memory quota)", data,
                [command("isolation.py", data["args"])], body, "isolation")  # fmt: skip


def main() -> None:
    def load(name: str) -> dict[str, Any]:
        return dict(json.loads((RESULTS / f"{name}.json").read_text()))

    pages: dict[str, Callable[[], str]] = {
        "embeddings": lambda: embeddings([load(p.stem) for p in sorted(RESULTS.glob("embeddings-*.json"))]),
        "overhead": lambda: overhead([load("overhead-minilm-b8"), load("overhead-cam-b1")]),
        "density": lambda: density(load("density")),
        "isolation": lambda: isolation(load("isolation")),
    }
    for name, render in pages.items():
        path = RESULTS / f"{name}.md"
        path.write_text(render())
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
