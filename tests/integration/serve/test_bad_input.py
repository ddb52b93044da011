"""Client mistakes get a 4xx whose message says what was expected; never a 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from conftest import ServeProcess


def _image(shape: list[int], datatype: str = "FP32", data: Any = None) -> dict[str, Any]:
    count = 1
    for dim in shape:
        count *= dim
    return {"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": data or [0.5] * count}]}


def test_wrong_shape_names_the_expected_shape(main_server: ServeProcess) -> None:
    response = main_server.post("/v2/models/cam/infer", _image([1, 3, 32, 31]))
    assert response.status_code == 400
    assert "expected 32" in response.json()["error"]
    assert "image: float32[batch, 3, 32, 32]" in response.json()["error"]


def test_wrong_dtype_names_the_expected_dtype(main_server: ServeProcess) -> None:
    response = main_server.post("/v2/models/cam/infer", _image([1, 3, 32, 32], "INT64", [1] * 3072))
    assert response.status_code == 400
    assert "expected float32" in response.json()["error"]


def test_data_that_does_not_match_the_shape_or_type(main_server: ServeProcess) -> None:
    short = main_server.post("/v2/models/cam/infer", _image([1, 3, 32, 32], data=[0.5] * 3071))
    assert short.status_code == 400
    assert "3071 elements" in short.json()["error"]
    words = main_server.post("/v2/models/cam/infer", _image([1, 3, 32, 32], data=["x"] * 3072))
    assert words.status_code == 400
    assert "not FP32" in words.json()["error"]
    unknown = main_server.post("/v2/models/cam/infer", _image([1, 3, 32, 32], "FP99"))
    assert unknown.status_code == 400
    assert "datatype" in unknown.json()["error"]


def test_unknown_model_and_version_are_404_with_the_choices(main_server: ServeProcess) -> None:
    response = main_server.post("/v2/models/cma/infer", _image([1, 3, 32, 32]))
    assert response.status_code == 404
    assert "did you mean cam" in response.json()["error"]
    assert main_server.get("/v2/models/cam/versions/2.0.0").status_code == 404
    embed = main_server.post("/v1/embeddings", {"model": "nope", "input": "x"})
    assert embed.status_code == 404
    assert embed.json()["error"]["type"] == "not_found_error"


def test_malformed_json_is_400(main_server: ServeProcess) -> None:
    response = requests.post(main_server.url + "/v2/models/cam/infer", data=b'{"inputs": [', timeout=30)
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    curl_style = requests.post(
        main_server.url + "/v1/embeddings",
        data=b'{"model": "minilm", "input": "hi"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert curl_style.status_code == 200  # curl -d sends a form content type; the body is JSON all the same


def test_oversized_payload_is_413(main_server: ServeProcess) -> None:
    big = _image([100, 3, 32, 32])  # ~1.5 MB of JSON, over the 1 MiB limit this server runs with
    response = main_server.post("/v2/models/cam/infer", big)
    assert response.status_code == 413
    assert "--max-body-bytes" in response.json()["error"]


def test_embeddings_request_mistakes(main_server: ServeProcess) -> None:
    for body, expected in [
        ({"model": "cam", "input": "x"}, "embedding models here: minilm"),
        ({"model": "minilm", "input": []}, "send 1 to"),
        ({"model": "minilm", "input": [1, 2, 3]}, "input"),
        ({"model": "minilm", "input": "x", "dimensions": 12}, "384-dimensional"),
        ({"input": "x"}, "model"),
    ]:
        response = main_server.post("/v1/embeddings", body)
        assert response.status_code == 400, (body, response.text)
        assert expected in response.json()["error"]["message"], (body, response.text)


def test_unknown_output_is_400(main_server: ServeProcess) -> None:
    body = _image([1, 3, 32, 32]) | {"outputs": [{"name": "probabilities"}]}
    response = main_server.post("/v2/models/cam/infer", body)
    assert response.status_code == 400
    assert "logits" in response.json()["error"]


def test_a_lone_surrogate_is_400_and_does_not_fail_its_batch_mates(main_server: ServeProcess) -> None:
    # JSON may escape half a surrogate pair; such a string cannot be UTF-8, so the tokenizer cannot take it.
    bad = b'{"model": "minilm", "input": ["fine", "broken \\ud800 text"]}'
    with ThreadPoolExecutor(4) as pool:
        goods = [
            pool.submit(main_server.post, "/v1/embeddings", {"model": "minilm", "input": ["hello"]}) for _ in range(3)
        ]
        response = requests.post(main_server.url + "/v1/embeddings", data=bad, timeout=60)
        assert [g.result().status_code for g in goods] == [200, 200, 200]
    assert response.status_code == 400
    assert "text 1 is not valid Unicode" in response.json()["error"]["message"]
    v2 = b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["\\udfff"]}]}'
    response = requests.post(main_server.url + "/v2/models/minilm/infer", data=v2, timeout=60)
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["error"]


def test_token_tensors_longer_than_the_model_takes_are_400(main_server: ServeProcess) -> None:
    def tokens(length: int) -> dict[str, Any]:
        ids = [101] + [2023] * (length - 2) + [102]
        feeds = {"input_ids": ids, "attention_mask": [1] * length, "token_type_ids": [0] * length}
        return {"inputs": [{"name": n, "shape": [1, length], "datatype": "INT64", "data": d} for n, d in feeds.items()]}

    assert main_server.post("/v2/models/minilm/infer", tokens(256)).status_code == 200
    response = main_server.post("/v2/models/minilm/infer", tokens(3000))  # past the model's 512 positions
    assert response.status_code == 400
    assert "3000 tokens per text, more than the 256 this model takes" in response.json()["error"]
