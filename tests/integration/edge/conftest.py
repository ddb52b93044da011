"""Real runs of the edge agent: real video files (colour segments with known events, and a short simulated
shift written by `mlway sim shift`, cached under .cache/edge/), real SQLite outboxes, a real webhook server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlway.edge.testing import write_colour_bundle, write_colour_video

pytest.importorskip("onnxruntime")
pytest.importorskip("av")

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache" / "edge"
SHIFT_ARGS = ["--machines", "1", "--hours", "0.07", "--fps", "1", "--seed", "8", "--failure-rate", "1",
              "--start-hour", "11", "--size", "320x240"]  # fmt: skip
"""252 s of one combine at 1 frame/s: harvesting, then unloading (~162 s) that fails (~220-252 s)."""


def mlway(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a user runs it."""
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "mlway", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="session")
def shift() -> Path:
    """The simulated shift's directory (written once, then reused from .cache/edge/)."""
    out = CACHE / ("shift-" + "-".join(a.strip("-") for a in SHIFT_ARGS))
    if not (out / "manifest.json").is_file():
        staging = out.with_name(out.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        done = mlway("sim", "shift", "--out", str(staging), *SHIFT_ARGS)
        assert done.returncode == 0, done.stderr
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    return out


@pytest.fixture(scope="session")
def colour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour test model and two videos: header has 5 s of red (one urgent event), auger 5 s of blue."""
    root = tmp_path_factory.mktemp("edge-colour")
    write_colour_bundle(root / "colour")
    write_colour_video(root / "header.mp4", [("black", 3), ("red", 5), ("black", 4)])
    write_colour_video(root / "auger.mp4", [("black", 2), ("blue", 5), ("black", 3)])
    return root


class Hook:
    """A webhook receiver on 127.0.0.1: records the JSON bodies it was POSTed."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.server.shutdown()
    server.server.server_close()
