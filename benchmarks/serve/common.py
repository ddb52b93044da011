"""Shared pieces of the serve benchmarks: machine facts, a real `mlway serve` process, a KServe client, stats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "serve"
WORK = ROOT / ".cache" / "serve-bench"
PYTHON = sys.executable


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src/mlway/serve", "src/mlway/runtime"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    versions = {p: version(p) for p in ("onnxruntime", "torch", "sentence-transformers", "fastapi", "uvicorn")}
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit + ("+dirty" if dirty else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": versions,
    }


def machine_markdown(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (
        f"- machine: {info['cores']} cores, {info['cpu']}, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}\n- commit: `{info['commit']}`, date: {info['date']}\n- versions: {versions}\n"
    )


def write_result(name: str, data: dict[str, Any]) -> Path:
    path = HERE / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(cpus: Sequence[int]) -> None:
    os.sched_setaffinity(0, set(cpus))


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class Server:
    """``mlway serve MODELS`` in a subprocess; ``with Server(...) as s: s.url``."""

    def __init__(self, models: Path, *args: str, budget: str = "6GiB", cpus: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [PYTHON, "-m", "mlway", "serve", str(models), "--memory-budget", budget, "--cpus", str(cpus),
                        "--port", str(self.port), *args]  # fmt: skip
        self.log = WORK / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        WORK.mkdir(parents=True, exist_ok=True)
        env = os.environ | {"HF_HUB_OFFLINE": "1", "COLUMNS": "200", "NO_COLOR": "1"}
        self.process = subprocess.Popen(self.command, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 180
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlway serve exited: {self.log.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r,
            ):
                if r.status == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError("mlway serve did not become ready")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def v2_body(arrays: dict[str, np.ndarray]) -> bytes:
    datatypes = {"float32": "FP32", "int64": "INT64"}
    inputs = [
        {"name": n, "shape": list(a.shape), "datatype": datatypes[a.dtype.name], "data": a.ravel()}
        for n, a in arrays.items()
    ]
    return orjson.dumps({"inputs": inputs}, option=orjson.OPT_SERIALIZE_NUMPY)


def v2_binary_body(arrays: dict[str, np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """The same request in the binary tensor extension (raw bytes after the JSON), asking binary outputs."""
    datatypes = {"float32": "FP32", "int64": "INT64"}
    inputs = [
        {"name": n, "shape": list(a.shape), "datatype": datatypes[a.dtype.name],
         "parameters": {"binary_data_size": a.nbytes}}
        for n, a in arrays.items()
    ]  # fmt: skip
    header = orjson.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}})
    body = header + b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}
    return body, headers


JSON_HEADERS = {"Content-Type": "application/json"}


class Record:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.wall = 0.0


async def closed_loop(
    url: str, body: bytes, *, concurrency: int, requests: int, warmup: int = 0, headers: dict[str, str] | None = None
) -> Record:
    """``concurrency`` users each sending the same POST back to back until ``requests`` answers."""
    record = Record()
    left = requests + warmup
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def user() -> None:
            nonlocal left, done
            while left > 0:
                left -= 1
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers or JSON_HEADERS) as r:
                    await r.read()
                    status = r.status
                done += 1
                if done > warmup:
                    record.latencies.append(time.perf_counter() - started)
                    record.statuses[status] = record.statuses.get(status, 0) + 1
                    if done == warmup + 1:
                        record.wall = -time.perf_counter()

        t0 = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        record.wall = time.perf_counter() + record.wall if record.wall else time.perf_counter() - t0
    return record


async def open_loop(url: str, body: bytes, *, rate: float, duration: float, limit: float = 30.0) -> Record:
    """Requests at a constant ``rate`` per second for ``duration`` seconds, each timed and its status kept."""
    record = Record()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=limit)
    ) as session:

        async def one() -> None:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    status = r.status
            except Exception as exc:  # noqa: BLE001 - counted as an error
                record.errors.append(repr(exc))
                return
            record.latencies.append(time.perf_counter() - started)
            record.statuses[status] = record.statuses.get(status, 0) + 1

        tasks = []
        start = time.perf_counter()
        count = int(rate * duration)
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        record.wall = time.perf_counter() - start
    return record
