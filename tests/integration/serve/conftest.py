"""Real servers for the serve tests: ``mlway serve`` in a subprocess on 127.0.0.1, real worker processes,
tiny ONNX models from mlway.runtime.testing and the real all-MiniLM-L6-v2 bundle (built once, cached
under .cache/serve)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mlway.runtime.testing import write_bundle

pytest.importorskip("onnxruntime")
pytest.importorskip("fastapi")

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache" / "serve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``python -m mlway serve DIR ...`` on a free port; waits until every model left loading."""

    def __init__(self, models: Path, *args: str, budget: str = "4GiB") -> None:
        self.models = models
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "mlway", "serve", str(models), "--memory-budget", budget, "--cpus", "2"]
        command += ["--port", str(self.port), *args]
        env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}
        self.log = models.parent / f"serve-{self.port}.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait()

    def _wait(self) -> None:
        end = time.monotonic() + 180
        while time.monotonic() < end:
            if self.process.poll() is not None:
                pytest.fail(f"mlway serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/v2/health/live", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        pytest.fail(f"mlway serve did not come up:\n{self.log.read_text()[-3000:]}")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=120, **kwargs)

    def model(self, name: str) -> dict[str, Any]:
        models = self.get("/v2/models").json()["models"]
        return next(m for m in models if m["name"] == name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``predicate`` holds; fail naming ``what`` after ``timeout`` (a hang guard, not a speed test)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def serve_settings(bundle: Path, **settings: object) -> None:
    (bundle / "mlway-serve.yaml").write_text(yaml.safe_dump(settings))


@pytest.fixture(scope="session")
def minilm_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real all-MiniLM-L6-v2 bundle (fp32 first, then int8), built once and cached under .cache/serve."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from mlway.serve import build_minilm  # noqa: PLC0415

    out = tmp_path_factory.mktemp("minilm") / "minilm"
    return build_minilm(out, cache_dir=CACHE).directory


@pytest.fixture(scope="session")
def main_server(tmp_path_factory: pytest.TempPathFactory, minilm_bundle: Path) -> Iterator[ServeProcess]:
    """MiniLM (text embeddings) and a small conv net (image classifier), one core each."""
    models = tmp_path_factory.mktemp("main") / "models"
    shutil.copytree(minilm_bundle, models / "minilm")
    write_bundle(models / "cam", name="cam", kind="conv", variants=("fp32", "int8", "int8-small"))
    server = ServeProcess(models, "--max-body-bytes", "1MiB")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start a server on a models directory built by the test; stopped after it."""
    started: list[ServeProcess] = []

    def start(models: Path, *args: str, budget: str = "4GiB") -> ServeProcess:
        server = ServeProcess(models, *args, budget=budget)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def waiter() -> Callable[..., None]:
    return wait_until
