"""What HTTP and a process hop cost on this machine: the floor under benchmark 2's added latency.

Benchmark 2 compares one HTTP request through `mlway serve` with onnxruntime called in-process. This
script measures the two exchanges of that path with no mlway code at all.

**http**: a bare ASGI app on the same
uvicorn/uvloop/httptools stack answers a POST of the request's size (MiniLM b8's binary request) with
a body of the answer's size (its [8, 22, 384] float32 output), either at once or after a thread slept
for the model's inference time (as the server waits for its worker); the same aiohttp client as
benchmark 2, pinned to core 1. The time reported excludes the wait itself (measured by the server from
the request's arrival until it resumes, and sent back in a header).

**pipe**: a small request to a child process and an answer of the same size back, pickled numpy arrays
over a socketpair as the runtime's worker messages are, the child working for the inference time first.

The difference between "after a wait" and "at once" is what the idle pause costs: on this virtual
machine a core that halts while the model runs is slow to wake (the guest's halt polling is off), and
the in-process raw call never pays it.

    .venv/bin/python benchmarks/serve/floor.py --reply-bytes 270336 --wait-ms 24
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection

import aiohttp
import numpy as np
from common import PYTHON, free_port, machine, pin, write_result

SERVER = """
import asyncio, os, sys, time, uvicorn
reply = os.urandom(int(sys.argv[2]))
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    wait = float(scope["query_string"] or 0)
    started = time.perf_counter()
    if wait:
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, wait)
    waited = str(time.perf_counter() - started).encode()
    headers = [(b"content-length", str(len(reply)).encode()), (b"x-waited", waited)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reply})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", loop="uvloop", http="httptools")
"""


def pipe(reply_bytes: int, wait: float, calls: int) -> float:
    """p50 ms of a small request to a child process and a ``reply_bytes`` answer back, beyond its ``wait``.

    The child (core 0) works ``wait`` seconds before it answers, as a worker runs the model; the parent
    (core 1) waits in ``recv`` meanwhile, as the server's reader thread does. Messages are pickled numpy
    arrays over a socketpair, as the runtime sends them.
    """
    reply = np.random.default_rng(0).standard_normal(reply_bytes // 4).astype(np.float32)
    request = {"input_ids": np.ones((8, 22), np.int64)}
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        pin([0])
        conn = Connection(child.detach())
        while conn.recv() is not None:
            received = time.perf_counter()
            while time.perf_counter() - received < wait:
                pass
            conn.send((received, time.perf_counter(), {"out": reply.copy()}))
        os._exit(0)
    child.close()
    pin([1])
    conn = Connection(parent.detach())
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        conn.send(request)
        received, answered, _ = conn.recv()
        times.append((received - started) + (time.perf_counter() - answered))
    conn.send(None)
    os.waitpid(pid, 0)
    conn.close()
    return statistics.median(times[calls // 10 :]) * 1000


async def http(url: str, request_bytes: int, wait: float, calls: int) -> float:
    body = os.urandom(request_bytes)
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(calls):
            started = time.perf_counter()
            async with session.post(f"{url}?{wait}", data=body) as response:
                await response.read()
                waited = float(response.headers["x-waited"])
            times.append(time.perf_counter() - started - waited)
    return statistics.median(times[calls // 10 :]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reply-bytes", type=int, default=8 * 22 * 384 * 4, help="MiniLM b8's answer")
    parser.add_argument("--request-bytes", type=int, default=4_500)
    parser.add_argument("--wait-ms", type=float, default=24.0, help="MiniLM int8 b8's inference time here")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    wait = args.wait_ms / 1000
    port = free_port()
    server = subprocess.Popen([PYTHON, "-c", SERVER, str(port), str(args.reply_bytes)])
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        runs: dict[str, list[float]] = {"http_at_once": [], "http_after_wait": [], "pipe_at_once": [],
                                        "pipe_after_wait": []}  # fmt: skip
        for _ in range(args.repeats):
            runs["pipe_at_once"].append(pipe(args.reply_bytes, 0.0, args.calls))
            runs["pipe_after_wait"].append(pipe(args.reply_bytes, wait, args.calls))
            pin([1])
            runs["http_at_once"].append(asyncio.run(http(url, args.request_bytes, 0.0, args.calls)))
            runs["http_after_wait"].append(asyncio.run(http(url, args.request_bytes, wait, args.calls)))
            print({k: round(v[-1], 3) for k, v in runs.items()}, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    path = write_result("floor", {"machine": machine(), "args": vars(args), "medians_ms": medians, "runs_ms": runs})
    print(json.dumps(medians, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
