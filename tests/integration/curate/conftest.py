"""Short simulated shifts written once per session for the curate integration tests.

``unloading_shift``: two combines for 7.2 minutes at 1 frame/s (1,728 frames), seed 8, every
unloading fails: both combines unload (from ~160 s and ~270 s) and run into a 36-39 s failure, so
all four classes appear on both machines. ``idle_shift``: 36 s with no unloading at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlway.sim import ShiftConfig, write_shift

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

UNLOADING = ShiftConfig(machines=2, hours=0.12, fps=1, seed=8, failure_rate=1.0, start_hour=11.0)
IDLE = ShiftConfig(machines=2, hours=0.01, fps=1, width=64, height=48, seed=3, failure_rate=0.0, min_failures=0)


@pytest.fixture(scope="session")
def unloading_shift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("curate") / "unloading"
    write_shift(UNLOADING, out)
    return out


@pytest.fixture(scope="session")
def idle_shift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("curate") / "idle"
    write_shift(IDLE, out)
    return out


def mlway(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a user runs it."""
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "mlway", *args], capture_output=True, text=True, timeout=900,
                          env=env, check=False)  # fmt: skip
