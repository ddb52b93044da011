"""The machine, package versions and commit a result was measured on: the header of every results page here.

info = machine(["src/mlway/edge"], packages=["onnxruntime"])   # commit gets "+dirty" if those paths changed
"""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def machine(dirty_paths: Sequence[str], packages: Sequence[str] = ()) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *dirty_paths], capture_output=True, text=True,
                           check=False)  # fmt: skip
    return {
        "cores": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "commit": commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "versions": {p: version(p) for p in packages},
    }  # fmt: skip
