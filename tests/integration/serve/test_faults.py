"""Overload, deadlines, a worker killed mid-request and a tampered artefact, on a real server."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from mlway.runtime.testing import write_bundle

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ServeProcess

ROWS = 4096  # with hidden=4096 a request is seconds of work on one core: long enough to act while it runs


def _rows(count: int) -> dict[str, Any]:
    data = np.random.default_rng(0).standard_normal((count, 16)).astype(np.float32)
    return {"inputs": [{"name": "input", "shape": [count, 16], "datatype": "FP32", "data": data.ravel().tolist()}]}


def _slow(models: Path, name: str = "slow", **quota: Any) -> Path:
    write_bundle(models / name, name=name, variants=("fp32",), hidden=4096, memory="1GiB", **quota)
    return models / name


def _tampered(models: Path) -> Path:
    bundle = models / "tampered"
    write_bundle(bundle, name="tampered")
    with (bundle / "fp32.onnx").open("r+b") as handle:  # flip bytes inside the weights
        handle.seek(-64, os.SEEK_END)
        handle.write(b"\x00" * 16)
    return bundle


def test_overload_gets_429_at_once_and_the_accepted_requests_are_answered(
    start_server: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    _slow(tmp_path / "models", max_queue=1)
    server = start_server(tmp_path / "models")
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: server.post("/v2/models/slow/infer", _rows(ROWS)), range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert 429 in statuses, statuses
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 1
    refused = next(r for r in responses if r.status_code == 429)
    assert "max_queue (1)" in refused.json()["error"]
    assert refused.headers["Retry-After"] == "1"
    metrics = server.get("/metrics").text
    assert 'mlway_requests_total{endpoint="infer",model="slow",status="429"}' in metrics


def test_a_request_past_its_deadline_gets_504_naming_the_setting(
    start_server: Callable[..., ServeProcess], tmp_path: Path, waiter: Callable[..., None]
) -> None:
    bundle = _slow(tmp_path / "models")
    (bundle / "mlway-serve.yaml").write_text(yaml.safe_dump({"timeout_ms": 200}))
    server = start_server(tmp_path / "models")
    response = server.post("/v2/models/slow/infer", _rows(ROWS))
    assert response.status_code == 504
    message = response.json()["error"]
    assert "deadline" in message
    assert "timeout_ms" in message
    assert "mlway-serve.yaml" in message
    waiter(lambda: server.model("slow")["in_flight"] == 0, "the late batch to stop")
    assert server.post("/v2/models/slow/infer", _rows(2)).status_code == 200


def test_server_timeout_is_named_when_the_model_sets_none(
    start_server: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    _slow(tmp_path / "models")
    server = start_server(tmp_path / "models", "--request-timeout", "200ms")
    response = server.post("/v2/models/slow/infer", _rows(ROWS))
    assert response.status_code == 504
    assert "--request-timeout" in response.json()["error"]


def test_worker_killed_mid_request_fails_that_request_and_is_restarted(
    start_server: Callable[..., ServeProcess], tmp_path: Path, waiter: Callable[..., None]
) -> None:
    models = tmp_path / "models"
    _slow(models)
    write_bundle(models / "cam", name="cam", kind="conv", variants=("fp32",))
    server = start_server(models)
    before = server.model("slow")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.post, "/v2/models/slow/infer", _rows(ROWS))
        waiter(lambda: server.model("slow")["in_flight"] > 0, "the request to reach the worker")
        os.kill(before["pid"], signal.SIGKILL)
        response = pending.result(timeout=120)
    assert response.status_code == 503
    assert "request was lost" in response.json()["error"]
    image = {"inputs": [{"name": "image", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": [0.1] * 3072}]}
    assert server.post("/v2/models/cam/infer", image).status_code == 200  # the neighbour kept serving
    waiter(lambda: server.model("slow")["state"] == "ready", "the worker to be replaced")
    after = server.model("slow")
    assert after["restarts"] == 1
    assert after["pid"] != before["pid"]
    assert after["variant"] == "fp32"
    assert "restarted after" in after["reason"]
    assert server.post("/v2/models/slow/infer", _rows(2)).status_code == 200
    assert server.get("/v2/health/ready").status_code == 200


def test_tampered_artefact_falls_back_to_the_next_variant_shown_in_the_model_list(
    start_server: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    _tampered(tmp_path / "models")
    server = start_server(tmp_path / "models")
    model = server.model("tampered")
    assert model["state"] == "ready"
    assert model["variant"] == "int8"
    assert "fp32 refused: sha256 mismatch for fp32.onnx" in model["reason"], model["reason"]
    meta = server.get("/v2/models/tampered").json()
    assert meta["parameters"]["variant"] == "int8"
    rows = {"inputs": [{"name": "input", "shape": [3, 16], "datatype": "FP32", "data": [0.25] * 48}]}
    answer = server.post("/v2/models/tampered/infer", rows).json()
    assert answer["parameters"]["variant"] == "int8"
    assert answer["outputs"][0]["shape"] == [3, 4]


def test_a_model_that_fits_nowhere_is_503_and_explained(
    start_server: Callable[..., ServeProcess], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    write_bundle(models / "big", name="big", variants=("fp32",), memory="2GiB", memory_bytes={"fp32": 1536 * 1024**2})
    write_bundle(models / "small", name="small", variants=("fp32",))
    server = start_server(models, budget="1GiB")
    big = server.model("big")
    assert big["variant"] is None
    assert "budget" in big["reason"]
    rows = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.5] * 16}]}
    response = server.post("/v2/models/big/infer", rows)
    assert response.status_code == 503
    assert "budget" in response.json()["error"]
    assert server.get("/v2/models/big/ready").status_code == 400
    assert server.post("/v2/models/small/infer", rows).status_code == 200
