"""How faithfully the link emulator shapes traffic, and what it costs when it shapes nothing.

    .venv/bin/python benchmarks/edge/link_accuracy.py

1. Shaping: a 20 KB upload through a 40 kbit/s link (no latency, no faults) must take 20e3*8/40e3 = 4 s;
   reports measured/expected (>= 1 by construction; how far above 1 is the emulator's slack).
2. Latency: 20 one-byte echoes through a fixed 300 ms each-way link; reports the mean round trip / 600 ms.
3. 2G preset, faults off: a 10 KB echo; its floor is 10e3*8/40e3 s + 2 x 300 ms = 2.6 s.
4. Overhead: a 64 MiB echo directly to the server (raw baseline) and through LinkProxy.perfect(); the ratio.
Writes benchmarks/edge/results/link_accuracy.{json,md} with machine, commit and date.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import statistics
import threading
import time
from pathlib import Path

from machine_info import machine

from mlway.sim.link import LinkProfile, LinkProxy

RESULTS = Path(__file__).parent / "results"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(262144):
                self.request.sendall(data)
        except OSError:
            pass


def roundtrip(port: int, data: bytes) -> float:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:

        def send() -> None:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        got = 0
        while chunk := sock.recv(262144):
            got += len(chunk)
        sender.join()
    assert got == len(data), (got, len(data))
    return time.monotonic() - start


def upload_s(port: int, size: int) -> float:
    """Time for ``size`` bytes to cross an up-limited link (down unlimited): the echo adds little."""
    return roundtrip(port, os.urandom(size))


def main() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = ("127.0.0.1", int(server.server_address[1]))
    info = machine(["src/mlway/sim"])
    out: dict[str, dict[str, float]] = {}

    with LinkProxy(upstream, LinkProfile.model_validate({"up_bps": 40_000})) as link:
        took = upload_s(link.port, 20_000)
    out["shaping_40kbps_20KB"] = {"expected_s": 4.0, "measured_s": round(took, 3), "ratio": round(took / 4.0, 4)}

    with LinkProxy(upstream, LinkProfile.model_validate({"latency_min_s": 0.3, "latency_max_s": 0.3})) as link:
        rtts = [roundtrip(link.port, b"x") for _ in range(20)]
    mean = statistics.mean(rtts)
    out["latency_300ms_each_way"] = {"expected_rtt_s": 0.6, "mean_rtt_s": round(mean, 4), "ratio": round(mean / 0.6, 4)}

    with LinkProxy(upstream, LinkProfile.gsm_2g(reset_per_kb=0, stall_per_kb=0, seed=1)) as link:
        took = roundtrip(link.port, os.urandom(10_000))
    # up and down are pipelined: the floor is one direction's 2 s plus the least latency both ways
    out["gsm_2g_10KB_echo"] = {"floor_s": 2.6, "seconds": round(took, 3), "ratio": round(took / 2.6, 3)}

    data = os.urandom(64 * 1024 * 1024)
    direct = min(roundtrip(upstream[1], data) for _ in range(3))
    with LinkProxy(upstream, LinkProfile.perfect()) as link:
        proxied = min(roundtrip(link.port, data) for _ in range(3))
    out["perfect_overhead_64MiB_echo"] = {
        "direct_MiB_s": round(64 / direct, 1), "proxied_MiB_s": round(64 / proxied, 1),
        "proxied_over_direct": round(direct / proxied, 3),
    }  # fmt: skip
    server.shutdown()

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "link_accuracy.json").write_text(json.dumps({"machine": info, **out}, indent=2) + "\n")
    title = f"# Link emulator accuracy ({info['date']}, commit {info['commit']}, {info['cpu']}, {info['cores']} cores)"
    lines = [title, "", "| measurement | result |", "|---|---|"]
    for key, value in out.items():
        lines.append(f"| {key} | {', '.join(f'{k}={v}' for k, v in value.items())} |")
    (RESULTS / "link_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
