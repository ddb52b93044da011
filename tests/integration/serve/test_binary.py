"""The KServe v2 binary tensor extension over a real server: raw bytes in and out, equal to the JSON form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import requests

if TYPE_CHECKING:
    from conftest import ServeProcess

IMAGE = np.random.default_rng(5).standard_normal((3, 3, 32, 32)).astype(np.float32)
HEADER = "Inference-Header-Content-Length"


def post_binary(
    server: ServeProcess, header: dict[str, Any], tail: bytes, length: int | None = None
) -> requests.Response:
    head = orjson.dumps(header)
    return requests.post(
        server.url + "/v2/models/cam/infer",
        data=head + tail,
        headers={HEADER: str(len(head) if length is None else length), "Content-Type": "application/octet-stream"},
        timeout=60,
    )


def split(response: requests.Response) -> tuple[dict[str, Any], bytes]:
    length = int(response.headers[HEADER])
    return orjson.loads(response.content[:length]), response.content[length:]


def binary_image(shape: list[int] | None = None, size: int | None = None) -> dict[str, Any]:
    raw = IMAGE.tobytes()
    return {
        "name": "image",
        "shape": shape or list(IMAGE.shape),
        "datatype": "FP32",
        "parameters": {"binary_data_size": len(raw) if size is None else size},
    }


def test_binary_inputs_and_outputs_give_the_same_answer_as_json(main_server: ServeProcess) -> None:
    plain = main_server.post(
        "/v2/models/cam/infer",
        {"inputs": [{"name": "image", "shape": list(IMAGE.shape), "datatype": "FP32", "data": IMAGE.ravel().tolist()}]},
    )
    assert plain.status_code == 200, plain.text
    expected = np.array(plain.json()["outputs"][0]["data"], dtype=np.float32).reshape(3, 4)

    response = post_binary(
        main_server,
        {"id": "b1", "inputs": [binary_image()], "parameters": {"binary_data_output": True}},
        IMAGE.tobytes(),
    )
    assert response.status_code == 200, response.text
    header, tail = split(response)
    assert header["id"] == "b1"
    [output] = header["outputs"]
    assert output == {"name": "logits", "shape": [3, 4], "datatype": "FP32", "parameters": {"binary_data_size": 48}}
    np.testing.assert_array_equal(np.frombuffer(tail, dtype="<f4").reshape(3, 4), expected)


def test_binary_output_can_be_asked_per_output_and_json_input_still_works(main_server: ServeProcess) -> None:
    body = {
        "inputs": [{"name": "image", "shape": list(IMAGE.shape), "datatype": "FP32", "data": IMAGE.ravel().tolist()}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
    }
    response = main_server.post("/v2/models/cam/infer", body)
    assert response.status_code == 200, response.text
    header, tail = split(response)
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 48}
    assert "data" not in header["outputs"][0]
    assert np.frombuffer(tail, dtype="<f4").shape == (12,)


def test_binary_input_answers_json_unless_binary_output_is_asked(main_server: ServeProcess) -> None:
    response = post_binary(main_server, {"inputs": [binary_image()]}, IMAGE.tobytes())
    assert response.status_code == 200, response.text
    assert HEADER not in response.headers
    assert len(response.json()["outputs"][0]["data"]) == 12


def test_wrong_binary_sizes_are_400_naming_what_was_expected(main_server: ServeProcess) -> None:
    raw = IMAGE.tobytes()
    short = post_binary(main_server, {"inputs": [binary_image(size=len(raw) - 4)]}, raw[:-4])
    assert short.status_code == 400
    assert "needs 36864" in short.text
    extra = post_binary(main_server, {"inputs": [binary_image()]}, raw + b"1234")
    assert extra.status_code == 400
    assert "4 bytes after the JSON belong to no input" in extra.text
    missing = post_binary(main_server, {"inputs": [binary_image()]}, raw[:100])
    assert missing.status_code == 400
    assert "binary data ends after 100 bytes" in missing.text
    no_tail = main_server.post("/v2/models/cam/infer", {"inputs": [binary_image()]})
    assert no_tail.status_code == 400
    assert HEADER in no_tail.json()["error"]


def test_a_header_length_past_the_body_is_400(main_server: ServeProcess) -> None:
    response = post_binary(main_server, {"inputs": [binary_image()]}, b"", length=10_000)
    assert response.status_code == 400
    assert HEADER in response.json()["error"]
    garbage = post_binary(main_server, {"inputs": [binary_image()]}, b"", length=None)
    assert garbage.status_code == 400  # binary_data_size set, but no bytes follow the JSON
