"""The README's commands are true: the main job runs, and every product quickstart runs as written."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quickstart(product: str) -> str:
    section = README.split(f"## `mlway {product}`", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert blocks, f"README has no bash quickstart for mlway {product}"
    return blocks[0]


def _run_script(script: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a README block in bash with this interpreter standing in for .venv/bin/mlway."""
    script = script.replace(".venv/bin/mlway", f"{sys.executable} -m mlway")
    for port in ("8000", "8700"):
        script = script.replace(port, str(_free_port()))
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        ["bash", "-ec", script], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_main_job_command_runs_the_field_to_cloud_demo(tmp_path: Path) -> None:
    assert "scripts/main.sh" in README.split("## `mlway")[0]
    out = tmp_path / "field"
    done = subprocess.run(
        [str(ROOT / "scripts/main.sh"), "--out", str(out)],
        capture_output=True, text=True, timeout=900, check=False,
        env=os.environ | {"COLUMNS": "200", "PYTHON": sys.executable},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    assert "Event timeline" in done.stdout
    delivery = re.search(r"combine-01\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\w+)", done.stdout)
    assert delivery, done.stdout[-3000:]
    confirmed, stored, _, waiting, exact = delivery.groups()
    assert exact == "yes"
    assert int(stored) + int(waiting) == int(confirmed) > 0
    for label in ("unloading", "unloading_failure"):
        row = re.search(rf"│ {label}\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*([\d.]+)\s*│\s*([\d.]+)", done.stdout)
        assert row, done.stdout[-3000:]
        true, _, _, precision, recall = row.groups()
        assert int(true) > 0
        assert float(precision) >= 0.8
        assert float(recall) >= 0.8
    assert (out / "hub.db").is_file()
    assert (out / "result.json").is_file()


def test_bench_quickstart_runs_as_written(tmp_path: Path) -> None:
    done = _run_script(_quickstart("bench"), tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for run in ("sim", "sim-rate", "sim-slo"):
        assert (tmp_path / "runs" / run / "run.json").is_file()
    assert (tmp_path / "runs" / "compare.html").is_file()


@pytest.mark.parametrize("product", ["plan", "serve", "curate", "edge"])
def test_other_quickstarts_run_as_written(product: str, tmp_path: Path) -> None:
    done = _run_script(_quickstart(product), tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    if product == "edge":  # the urgent alert ran its command, and the hub holds the device's events
        assert (tmp_path / "alerts.log").read_text().count("\n") >= 1
        assert "unloading" in done.stdout
        assert "combine-07" in done.stdout
