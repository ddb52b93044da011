"""OpenAI /v1/embeddings with the real all-MiniLM-L6-v2: equal to sentence-transformers' embeddings."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import numpy as np

from mlway.serve.minilm import check_sentences, reference_embeddings

if TYPE_CHECKING:
    from conftest import ServeProcess


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_embeddings_equal_sentence_transformers(main_server: ServeProcess) -> None:
    texts = check_sentences(40, seed=7)
    response = main_server.post("/v1/embeddings", {"model": "minilm", "input": texts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == "minilm"
    assert [d["index"] for d in body["data"]] == list(range(len(texts)))
    served = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert served.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-4)
    cosines = _cosines(served, reference_embeddings(texts))
    assert cosines.min() > 0.99, cosines.min()
    assert body["usage"]["prompt_tokens"] > len(texts)


def test_single_string_and_base64_give_the_same_vector(main_server: ServeProcess) -> None:
    floats = main_server.post("/v1/embeddings", {"model": "minilm", "input": "hello world"}).json()
    packed = main_server.post(
        "/v1/embeddings", {"model": "minilm", "input": ["hello world"], "encoding_format": "base64"}
    ).json()
    vector = np.array(floats["data"][0]["embedding"], dtype=np.float32)
    decoded = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, vector, atol=1e-6)
    assert floats["usage"]["prompt_tokens"] == 4  # [CLS] hello world [SEP]


def test_concurrent_requests_are_batched_and_answered_each_with_its_own_vector(main_server: ServeProcess) -> None:
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    texts = check_sentences(24, seed=11)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda t: main_server.post("/v1/embeddings", {"model": "minilm", "input": t}), texts))
    assert all(a.status_code == 200 for a in answers)
    served = np.array([a.json()["data"][0]["embedding"] for a in answers], dtype=np.float32)
    assert _cosines(served, reference_embeddings(texts)).min() > 0.99


def test_kserve_bytes_input_embeds_text(main_server: ServeProcess) -> None:
    body = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["hello world", "grain"]}]}
    response = main_server.post("/v2/models/minilm/infer", body)
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    assert output["name"] == "embedding"
    assert output["shape"] == [2, 384]
    single = main_server.post("/v1/embeddings", {"model": "minilm", "input": "hello world"}).json()
    np.testing.assert_allclose(output["data"][:384], single["data"][0]["embedding"], atol=1e-5)


def test_openai_model_list_names_the_embedding_models(main_server: ServeProcess) -> None:
    listing = main_server.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["minilm"]
