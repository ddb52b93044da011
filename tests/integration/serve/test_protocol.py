"""KServe v2 over a real server: health, metadata, and an inference round trip equal to onnxruntime's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

if TYPE_CHECKING:
    from conftest import ServeProcess

IMAGE = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)


def test_health_and_server_metadata(main_server: ServeProcess) -> None:
    assert main_server.get("/v2/health/live").json() == {"live": True}
    assert main_server.get("/v2/health/ready").json() == {"ready": True}
    meta = main_server.get("/v2").json()
    assert meta["name"] == "mlway"
    assert "openai_embeddings" in meta["extensions"]
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_lists_inputs_outputs_and_the_serving_variant(main_server: ServeProcess) -> None:
    meta = main_server.get("/v2/models/cam").json()
    assert meta["name"] == "cam"
    assert meta["versions"] == ["1.0.0"]
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 32, 32]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["parameters"]["variant"] == "fp32"
    assert main_server.get("/v2/models/cam/versions/1.0.0").json() == meta
    assert main_server.get("/v2/models/cam/ready").json()["ready"] is True
    assert main_server.get("/v2/models/cam/versions/9.9/ready").status_code == 404


def test_infer_round_trip_equals_onnxruntime(main_server: ServeProcess) -> None:
    body = {
        "id": "req-1",
        "inputs": [{"name": "image", "shape": list(IMAGE.shape), "datatype": "FP32", "data": IMAGE.ravel().tolist()}],
    }
    response = main_server.post("/v2/models/cam/infer", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == "cam"
    assert answer["id"] == "req-1"
    assert answer["parameters"]["variant"] == "fp32"
    [output] = answer["outputs"]
    assert output["name"] == "logits"
    assert output["shape"] == [2, 4]
    assert output["datatype"] == "FP32"
    reference = _reference(main_server)
    np.testing.assert_allclose(np.array(output["data"]).reshape(2, 4), reference, rtol=1e-4, atol=1e-5)


def _reference(server: ServeProcess) -> np.ndarray:
    session = ort.InferenceSession(str(server.models / "cam" / "fp32.onnx"), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"image": IMAGE})[0])


def test_nested_data_and_selected_outputs_are_accepted(main_server: ServeProcess) -> None:
    body = {
        "inputs": [{"name": "image", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": IMAGE[:1].tolist()}],
        "outputs": [{"name": "logits"}],
    }
    response = main_server.post("/v2/models/cam/versions/1.0.0/infer", body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [1, 4]


def test_model_list_says_which_variant_serves_and_why(main_server: ServeProcess) -> None:
    listing = main_server.get("/v2/models").json()
    assert listing["budget"]["cpu_ids"] == [0, 1]
    by_name = {m["name"]: m for m in listing["models"]}
    assert set(by_name) == {"cam", "minilm"}
    for model in by_name.values():
        assert model["state"] == "ready"
        assert model["variant"] == "fp32"
        assert "first choice" in model["reason"]
        assert model["pid"] > 0
        assert model["batching"]["max_batch_size"] == 32
