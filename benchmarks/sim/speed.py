"""How fast the harvest-shift simulator runs on one core, against real time.

    .venv/bin/python benchmarks/sim/speed.py                         # 1 combine, 0.25 h, 5 fps, 320x240
    .venv/bin/python benchmarks/sim/speed.py --machines 3 --hours 0.5   # the issue's example shift

Pins the process to one CPU (and OpenCV to one thread; the encoder already uses one), writes a shift
with ``write_shift`` into a temporary directory and reports frames rendered per second, encode time
per frame, and the ratio to real time: seconds of shift (per combine, both cameras) per second of
wall time. The target is at least 10x. Then times the live stream flat out on the same core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from mlway.sim import Shift, ShiftConfig, live_frames, write_shift


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=1)
    parser.add_argument("--hours", type=float, default=0.25)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--live-frames", type=int, default=1000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    width, height = (int(v) for v in args.size.lower().split("x"))
    config = ShiftConfig(machines=args.machines, hours=args.hours, fps=args.fps, width=width, height=height,
                         seed=args.seed)  # fmt: skip
    frames = config.frame_count * 2 * config.machines
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = time.process_time()
        result = write_shift(config, Path(tmp) / "shift")
        cpu_s = time.process_time() - cpu0
        size = sum(p.stat().st_size for p in (Path(tmp) / "shift" / "video").iterdir())
    other = result.total_s - result.render_s - result.encode_s
    shift_s = config.duration_s * config.machines

    shift = Shift(config)
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in itertools.islice(live_frames(shift, speed=None), args.live_frames))
    live_s, live_cpu = time.perf_counter() - t0, time.process_time() - c0

    print(f"machine: {_cpu()}, 1 core pinned; Python {platform.python_version()}, numpy {np.__version__}, "
          f"OpenCV {cv2.__version__}, PyAV {av.__version__}")  # fmt: skip
    print(f"commit {_commit()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f} before the run")
    print(f"shift: {config.machines} combine(s) x 2 cameras, {config.hours:g} h, {config.fps:g} fps, {width}x{height},"
          f" {frames} frames, video {size / frames / 1024:.1f} KiB/frame")  # fmt: skip
    print("| measure | value |")
    print("|---|---|")
    print(f"| render | {result.render_s / frames * 1e3:.2f} ms/frame ({frames / result.render_s:.0f} frames/s) |")
    print(f"| encode (PyAV libx264) | {result.encode_s / frames * 1e3:.2f} ms/frame |")
    print(f"| schedules, sensors, labels, manifest | {other:.2f} s |")
    print(f"| total wall | {result.total_s:.1f} s, {frames / result.total_s:.0f} frames/s |")
    print(f"| total CPU (this process) | {cpu_s:.1f} s, {frames / cpu_s:.0f} frames/s |")
    print(f"| x real time, wall (shift seconds of all combines / wall seconds) | {shift_s / result.total_s:.1f}x |")
    print(f"| x real time, CPU seconds | {shift_s / cpu_s:.1f}x |")
    print(f"| live stream flat out (render only), wall | {n / live_s:.0f} frames/s = "
          f"{n / live_s / (2 * config.fps):.1f}x real time per combine |")  # fmt: skip
    print(f"| live stream flat out, CPU | {n / live_cpu:.0f} frames/s |")


if __name__ == "__main__":
    main()
