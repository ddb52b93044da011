"""Smoke tests against the real third-party servers mlway benchmarks: vLLM CPU and llama.cpp.

They pin the behaviour mlway's load generator relies on (streaming shapes, exact output lengths,
usage reporting, Prometheus gauges) and the documented differences between the two servers.
Needs ``scripts/setup_servers.sh`` to have been run; the servers start once per session.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from servers import LlmServer, exact_length_fields

HTTP_TIMEOUT_S = 120.0
PROMPT = "The GNU General Public License is a free, copyleft license for"


def _request(url: str, body: dict[str, Any] | None = None) -> urllib.request.Request:
    data = None if body is None else json.dumps(body).encode()
    return urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})


def post_json(server: LlmServer, route: str, body: dict[str, Any]) -> dict[str, Any]:
    with urllib.request.urlopen(_request(server.base_url + route, body), timeout=HTTP_TIMEOUT_S) as resp:
        assert resp.status == 200
        result: dict[str, Any] = json.loads(resp.read())
    return result


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def iter_sse(server: LlmServer, route: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The JSON events of a streamed response; asserts the stream ends with ``data: [DONE]``."""
    done = False
    with urllib.request.urlopen(
        _request(server.base_url + route, {**body, "stream": True}), timeout=HTTP_TIMEOUT_S
    ) as resp:
        assert resp.status == 200
        assert resp.headers.get_content_type() == "text/event-stream"
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue  # blank separators, SSE comments (": ping ...")
            payload = line.removeprefix("data:").strip()
            if payload == "[DONE]":
                done = True
                break
            assert not done
            yield json.loads(payload)
    assert done, "stream closed without data: [DONE]"


@functools.cache
def _tokenizer(tokenizer_dir: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


def local_prompt_tokens(server: LlmServer, text: str) -> int:
    """Token count of ``text`` by the server's tokenizer loaded locally (BOS included)."""
    return len(_tokenizer(server.tokenizer_dir)(text).input_ids)


# --------------------------------------------------------------------------------------------
# Both servers


def test_serves_the_tiny_model_under_its_id(real_llm_server: LlmServer) -> None:
    body = json.loads(get_text(real_llm_server.base_url + "/models"))
    assert [m["id"] for m in body["data"]] == [real_llm_server.model]
    assert real_llm_server.base_url.endswith("/v1")
    assert real_llm_server.eos_token_id == 2
    assert Path(real_llm_server.tokenizer_dir, "tokenizer.json").is_file()


def test_completion_counts_tokens_like_the_local_tokenizer(real_llm_server: LlmServer) -> None:
    n = 12
    body = {"model": real_llm_server.model, "prompt": PROMPT, "max_tokens": n, "temperature": 0}
    result = post_json(real_llm_server, "/completions", body | exact_length_fields(real_llm_server))
    usage = result["usage"]
    assert usage["prompt_tokens"] == local_prompt_tokens(real_llm_server, PROMPT)
    assert usage["completion_tokens"] == n
    assert usage["total_tokens"] == usage["prompt_tokens"] + n
    (choice,) = result["choices"]
    assert isinstance(choice["text"], str)
    assert choice["finish_reason"] == "length"


def test_completion_streams_text_chunks(real_llm_server: LlmServer) -> None:
    n = 16
    body = {"model": real_llm_server.model, "prompt": PROMPT, "max_tokens": n}
    events = list(iter_sse(real_llm_server, "/completions", body | exact_length_fields(real_llm_server)))
    choices = [c for e in events for c in e["choices"]]
    assert 2 <= len(choices) <= n + 1  # one event per token, maybe one more to carry finish_reason
    assert all(e["object"] == "text_completion" for e in events)
    assert "".join(c["text"] for c in choices)
    assert choices[-1]["finish_reason"] == "length"
    assert all(c["finish_reason"] is None for c in choices[:-1])


@pytest.mark.parametrize(
    "content",
    ["Say something about licences.", [{"type": "text", "text": "Say something"}, {"type": "text", "text": "."}]],
    ids=["string-content", "list-of-parts-content"],
)
def test_chat_completion_streams_deltas(real_llm_server: LlmServer, content: object) -> None:
    n = 16
    body = {
        "model": real_llm_server.model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": n,
    }
    events = list(iter_sse(real_llm_server, "/chat/completions", body | exact_length_fields(real_llm_server)))
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    deltas = [c["delta"] for e in events for c in e["choices"]]
    assert deltas[0].get("role") == "assistant"
    text = "".join(d.get("content") or "" for d in deltas)
    assert text
    finish = [c["finish_reason"] for e in events for c in e["choices"] if c.get("finish_reason")]
    assert finish == ["length"]


def test_chat_completion_non_streaming_usage(real_llm_server: LlmServer) -> None:
    n = 8
    body = {
        "model": real_llm_server.model,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": n,
    }
    result = post_json(real_llm_server, "/chat/completions", body | exact_length_fields(real_llm_server))
    (choice,) = result["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "length"
    # BOS + "<|user|>\nhi\n<|assistant|>\n" rendered by the model's chat template.
    assert result["usage"]["prompt_tokens"] == local_prompt_tokens(real_llm_server, "<|user|>\nhi\n<|assistant|>\n")
    assert result["usage"]["completion_tokens"] == n


# --------------------------------------------------------------------------------------------
# vLLM


def test_vllm_ignore_eos_gives_exactly_max_tokens_with_stream_usage(vllm_server: LlmServer) -> None:
    n = 40
    body = {
        "model": vllm_server.model,
        "prompt": PROMPT,
        "max_tokens": n,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    events = list(iter_sse(vllm_server, "/completions", body))
    *token_events, last = events
    assert last["choices"] == []  # the usage rides on its own final event
    assert last["usage"]["completion_tokens"] == n
    assert last["usage"]["prompt_tokens"] == local_prompt_tokens(vllm_server, PROMPT)
    assert all(e.get("usage") is None for e in token_events)
    # Usually one event per token (some with empty text while a UTF-8 character is incomplete),
    # but vLLM sometimes merges tokens into one event: count tokens from usage, not from events.
    assert 1 <= len(token_events) <= n


def test_vllm_honours_max_completion_tokens_in_chat(vllm_server: LlmServer) -> None:
    n = 10
    body = {
        "model": vllm_server.model,
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": n,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    events = list(iter_sse(vllm_server, "/chat/completions", body))
    assert events[-1]["usage"]["completion_tokens"] == n


def test_vllm_rejects_an_unknown_model_id(vllm_server: LlmServer) -> None:
    body = {"model": "no-such-model", "prompt": PROMPT, "max_tokens": 2}
    with pytest.raises(urllib.error.HTTPError) as err:
        post_json(vllm_server, "/completions", body)
    assert err.value.code == 404
    err.value.close()


METRIC_RUNNING = "vllm:num_requests_running"
METRIC_WAITING = "vllm:num_requests_waiting"
METRIC_KV_USAGE = "vllm:kv_cache_usage_perc"


def scrape_gauge(text: str, name: str) -> float:
    """The value of an unlabelled-or-labelled gauge sample ``name{...} value`` in a Prometheus page."""
    match = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.eE+-]+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_vllm_metrics_expose_running_waiting_and_kv_usage(vllm_server: LlmServer) -> None:
    metrics = get_text(vllm_server.root_url + "/metrics")
    for name in (METRIC_RUNNING, METRIC_WAITING, METRIC_KV_USAGE):
        assert f"# TYPE {name} gauge" in metrics
        assert f'model_name="{vllm_server.model}"' in metrics
        assert scrape_gauge(metrics, name) >= 0


def test_vllm_running_gauge_sees_an_in_flight_stream(vllm_server: LlmServer) -> None:
    body = {"model": vllm_server.model, "prompt": PROMPT, "max_tokens": 1500, "ignore_eos": True}
    first_token = threading.Event()
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for _ in iter_sse(vllm_server, "/completions", body):
                first_token.set()
        except BaseException as exc:  # noqa: BLE001 (handed to the test thread)
            errors.append(exc)
        finally:
            first_token.set()

    worker = threading.Thread(target=stream, daemon=True)
    worker.start()
    assert first_token.wait(HTTP_TIMEOUT_S)
    seen_running, seen_kv = 0.0, 0.0
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline and not (seen_running and seen_kv):
        metrics = get_text(vllm_server.root_url + "/metrics")
        seen_running = max(seen_running, scrape_gauge(metrics, METRIC_RUNNING))
        seen_kv = max(seen_kv, scrape_gauge(metrics, METRIC_KV_USAGE))
        time.sleep(0.05)
    worker.join(HTTP_TIMEOUT_S)
    assert not errors, errors
    assert seen_running >= 1
    assert 0 < seen_kv <= 1


# --------------------------------------------------------------------------------------------
# llama.cpp


@pytest.mark.parametrize("seed", range(5))
def test_llamacpp_logit_bias_on_eos_gives_exactly_max_tokens(llamacpp_server: LlmServer, seed: int) -> None:
    n = 40
    fields = exact_length_fields(llamacpp_server)
    assert fields["logit_bias"][str(llamacpp_server.eos_token_id)] == -100
    body = {"model": llamacpp_server.model, "prompt": PROMPT, "max_tokens": n, "seed": seed, **fields}
    result = post_json(llamacpp_server, "/completions", body)
    assert result["usage"]["completion_tokens"] == n
    assert result["choices"][0]["finish_reason"] == "length"


def test_llamacpp_accepts_any_model_id_and_ignores_max_completion_tokens(llamacpp_server: LlmServer) -> None:
    """Known differences from vLLM (which answers 404 to an unknown model, and honours it)."""
    body = {"model": "no-such-model", "prompt": PROMPT, "max_tokens": 3, "max_completion_tokens": 6}
    result = post_json(llamacpp_server, "/completions", body | exact_length_fields(llamacpp_server))
    assert result["model"] == "no-such-model"
    assert result["usage"]["completion_tokens"] == 3


def test_llamacpp_sends_no_usage_in_streams(llamacpp_server: LlmServer) -> None:
    """A known limitation: count stream tokens client-side (chunks or the local tokenizer)."""
    body = {
        "model": llamacpp_server.model,
        "prompt": PROMPT,
        "max_tokens": 8,
        "stream_options": {"include_usage": True},
        **exact_length_fields(llamacpp_server),
    }
    events = list(iter_sse(llamacpp_server, "/completions", body))
    assert events
    assert all(e.get("usage") is None for e in events)
