"""The simulated server as a real separate process, driven over HTTP the way load clients drive it."""

import asyncio
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest

from mlway.bench.simserver import CHAT_TOKENS_PER_MESSAGE, FailureKind, SimServerConfig, spawn_sim_server

MS = 1e-3
CHAT = [{"role": "user", "content": "tell me about the harvest"}]  # 5 words


@dataclass
class Streamed:
    """What a client saw: status, every SSE event with its arrival time since the request was sent."""

    status: int
    sent: float
    """perf_counter() when the request was sent."""
    events: list[tuple[float, Any]] = field(default_factory=list)
    body: Any = None
    error: str | None = None

    def content_times(self) -> list[float]:
        return [t for t, event in self.events if _text(event)]

    def text(self) -> str:
        return "".join(_text(event) for _, event in self.events)

    @property
    def data(self) -> list[Any]:
        return [event for _, event in self.events]


def _text(event: Any) -> str:
    if not isinstance(event, dict) or not event.get("choices"):
        return ""
    choice = event["choices"][0]
    return str(choice.get("text") or choice.get("delta", {}).get("content") or "")


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], **kwargs: Any) -> Streamed:
    sent = time.perf_counter()
    async with session.post(url, data=orjson.dumps(body), **kwargs) as response:
        result = Streamed(response.status, sent)
        if response.content_type != "text/event-stream":
            result.body = orjson.loads(await response.read())
            return result
        try:
            async for line in response.content:
                if line.startswith(b"data: "):
                    payload = line[6:].strip()
                    try:
                        event = "[DONE]" if payload == b"[DONE]" else orjson.loads(payload)
                    except orjson.JSONDecodeError:
                        event = ("malformed", payload)
                    result.events.append((time.perf_counter() - sent, event))
        except aiohttp.ClientPayloadError as exc:
            result.error = type(exc).__name__
        return result


def _run(coroutine_fn: Any, *args: Any) -> Any:
    async def main() -> Any:
        async with aiohttp.ClientSession() as session:
            return await coroutine_fn(session, *args)

    return asyncio.run(main())


def _one(url: str, body: dict[str, Any], **kwargs: Any) -> Streamed:
    async def call(session: aiohttp.ClientSession) -> Streamed:
        return await _post(session, url, body, **kwargs)

    result: Streamed = _run(call)
    return result


@pytest.fixture(scope="module")
def timed() -> Iterator[str]:
    with spawn_sim_server(SimServerConfig(ttft=40 * MS, itl=10 * MS)) as url:
        yield url


@pytest.fixture(scope="module")
def instant() -> Iterator[str]:
    with spawn_sim_server(SimServerConfig(ttft=0, itl=0, tokens_per_chunk=3, eos_probability=0.1)) as url:
        yield url


def test_a_streamed_chat_has_role_content_final_usage_and_done(instant: str) -> None:
    body = {"messages": CHAT, "max_tokens": 7, "stream": True, "stream_options": {"include_usage": True}}
    body["ignore_eos"] = True
    result = _one(instant + "/chat/completions", body)
    assert result.status == 200
    events = result.data
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [_text(e) for e in events[1:4]] == [" the field harvest", " model runs on", " a"]  # 3 per chunk
    assert events[4]["choices"][0]["finish_reason"] == "length"
    assert events[5]["choices"] == []
    assert events[5]["usage"] == {
        "prompt_tokens": 5 + CHAT_TOKENS_PER_MESSAGE,
        "completion_tokens": 7,
        "total_tokens": 16,
    }
    assert events[6] == "[DONE]"
    assert len(events) == 7
    assert {e["object"] for e in events[:-1]} == {"chat.completion.chunk"}
    assert len({e["id"] for e in events[:-1]}) == 1


def test_a_streamed_completion_without_usage_options_ends_with_done(instant: str) -> None:
    result = _one(instant + "/completions", {"prompt": "a b c", "max_tokens": 4, "stream": True, "ignore_eos": True})
    assert result.text().split() == ["the", "field", "harvest", "model"]
    assert result.data[-2]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in e for e in result.data[:-1])
    assert result.data[-1] == "[DONE]"


def test_without_ignore_eos_some_responses_stop_early_and_say_so(instant: str) -> None:
    async def calls(session: aiohttp.ClientSession) -> list[Streamed]:
        bodies = [{"prompt": f"question {i}", "max_tokens": 30} for i in range(20)]
        return [await _post(session, instant + "/completions", b) for b in bodies]

    results = _run(calls)
    early = [r.body for r in results if r.body["usage"]["completion_tokens"] < 30]
    assert early
    assert all(b["choices"][0]["finish_reason"] == "stop" for b in early)
    assert all(len(b["choices"][0]["text"].split()) == b["usage"]["completion_tokens"] for b in early)
    assert [r.body["usage"] for r in _run(calls)] == [r.body["usage"] for r in results]  # same again


def test_a_non_streamed_chat_answer(instant: str) -> None:
    body = {"model": "mlway-sim", "messages": CHAT, "max_completion_tokens": 5, "ignore_eos": True}
    result = _one(instant + "/chat/completions", body)
    assert result.status == 200
    answer = result.body
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": " the field harvest model runs"}
    assert answer["usage"]["completion_tokens"] == 5


def test_ttft_and_itl_match_the_config(timed: str) -> None:
    async def calls(session: aiohttp.ClientSession) -> list[Streamed]:
        body = {"prompt": "hi", "max_tokens": 10, "stream": True, "ignore_eos": True}
        await _post(session, timed + "/completions", body)  # warm the connection
        return [await _post(session, timed + "/completions", body) for _ in range(12)]

    results = _run(calls)
    ttfts = [r.content_times()[0] for r in results]
    gaps = [b - a for r in results for a, b in zip(r.content_times(), r.content_times()[1:], strict=False)]
    assert all(len(r.content_times()) == 10 for r in results)
    # never early, late only by scheduling noise (the precise error is measured in benchmarks/bench)
    assert 40 * MS <= statistics.median(ttfts) <= 60 * MS
    assert 9 * MS <= statistics.median(gaps) <= 12 * MS
    # deadlines do not drift: the tenth token comes 40 + 9 * 10 ms after the request
    assert 130 * MS <= statistics.median(r.content_times()[-1] for r in results) <= 150 * MS


def test_concurrent_streams_share_the_batch_without_queueing(timed: str) -> None:
    async def calls(session: aiohttp.ClientSession) -> list[Streamed]:
        body = {"prompt": "hi", "max_tokens": 3, "stream": True, "ignore_eos": True}
        await asyncio.gather(*[_post(session, timed + "/completions", body) for _ in range(16)])  # connect
        return list(await asyncio.gather(*[_post(session, timed + "/completions", body) for _ in range(16)]))

    results = _run(calls)
    firsts = [r.sent + r.content_times()[0] for r in results]
    # 16 sequences fit in the 64 slots: all first tokens come together, none waits for another
    assert max(firsts) - min(firsts) < 20 * MS
    assert statistics.median(r.content_times()[0] for r in results) < 55 * MS


def test_with_one_slot_requests_wait_their_turn() -> None:
    config = SimServerConfig(ttft=20 * MS, itl=5 * MS, max_batch=1)

    async def calls(session: aiohttp.ClientSession, url: str) -> list[Streamed]:
        body = {"prompt": "hi", "max_tokens": 5, "stream": True, "ignore_eos": True}
        return list(await asyncio.gather(*[_post(session, url + "/completions", body) for _ in range(3)]))

    with spawn_sim_server(config) as url:
        results = _run(calls, url)
    starts = sorted(r.sent + r.content_times()[0] for r in results)
    ends = sorted(r.sent + r.content_times()[-1] for r in results)
    # each request starts (and waits its 20 ms TTFT) only once the one before it has finished
    assert starts[1] >= ends[0] + 15 * MS
    assert starts[2] >= ends[1] + 15 * MS


def test_metrics_show_running_and_waiting_requests_during_load() -> None:
    config = SimServerConfig(ttft=50 * MS, itl=20 * MS, max_batch=2)

    async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
        async with session.get(url.removesuffix("/v1") + "/metrics") as response:
            text = await response.text()
        return {
            line.split("{")[0] + line.partition('le="')[2].partition('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("vllm:", "mlway_sim_chunk")) and "{" in line and "finished_reason" not in line
        }

    async def load(session: aiohttp.ClientSession, url: str) -> tuple[dict[str, float], dict[str, float]]:
        body = {"prompt": "one two three", "max_tokens": 10, "stream": True, "ignore_eos": True}
        requests = [asyncio.create_task(_post(session, url + "/completions", body)) for _ in range(5)]
        await asyncio.sleep(0.1)
        during = await scrape(session, url)
        await asyncio.gather(*requests)
        return during, await scrape(session, url)

    with spawn_sim_server(config) as url:
        during, after = _run(load, url)
    assert during["vllm:num_requests_running"] == 2
    assert during["vllm:num_requests_waiting"] == 3
    assert 0 < during["vllm:kv_cache_usage_perc"] < 1
    assert after["vllm:num_requests_running"] == after["vllm:num_requests_waiting"] == 0
    assert after["vllm:prompt_tokens_total"] == 15
    assert after["vllm:generation_tokens_total"] == 50
    # the server reports its own timing error: how late each chunk write was against its schedule
    writes = after["mlway_sim_chunk_lateness_seconds_count"]
    assert writes >= 10
    assert after["mlway_sim_chunk_lateness_seconds_bucket0.005"] >= writes / 2


def test_a_bad_request_gets_400_saying_what_is_wrong(instant: str) -> None:
    result = _one(instant + "/chat/completions", {"messages": CHAT, "max_tokens": -1})
    assert result.status == 400
    assert result.body["error"]["message"] == "'max_tokens' must be at least 1, got -1"
    assert result.body["error"]["type"] == "invalid_request_error"
    assert _one(instant + "/completions", {"max_tokens": 3}).body["error"]["message"].startswith("'prompt' is required")


def test_an_unknown_model_gets_404_naming_the_served_model(instant: str) -> None:
    result = _one(instant + "/completions", {"model": "gpt-9", "prompt": "hi"})
    assert result.status == 404
    assert "'gpt-9'" in result.body["error"]["message"]
    assert "'mlway-sim'" in result.body["error"]["message"]
    assert result.body["error"]["code"] == "model_not_found"


def test_models_lists_the_served_model(instant: str) -> None:
    async def call(session: aiohttp.ClientSession) -> Any:
        async with session.get(instant + "/models") as response:
            return await response.json()

    assert [m["id"] for m in _run(call)["data"]] == ["mlway-sim"]


def test_an_api_key_is_required_on_v1_when_configured() -> None:
    async def calls(session: aiohttp.ClientSession, url: str) -> list[int]:
        statuses = []
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret"}):
            result = await _post(session, url + "/completions", {"prompt": "hi", "max_tokens": 1}, headers=headers)
            statuses.append(result.status)
            if result.status == 401:
                assert "Authorization: Bearer" in result.body["error"]["message"]
        async with session.get(url.removesuffix("/v1") + "/health") as response:
            statuses.append(response.status)
        return statuses

    with spawn_sim_server(SimServerConfig(ttft=0, itl=0, api_key="s3cret")) as url:
        assert _run(calls, url) == [401, 401, 200, 200]


def test_embeddings_are_deterministic_unit_vectors(instant: str) -> None:
    body = {"input": ["the grain tank", "is full", "the grain tank"], "model": "mlway-sim"}
    answer = _one(instant + "/embeddings", body).body
    vectors = [item["embedding"] for item in answer["data"]]
    assert [item["index"] for item in answer["data"]] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    assert all(sum(x * x for x in v) == pytest.approx(1.0, abs=1e-4) for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert answer["usage"] == {"prompt_tokens": 8, "total_tokens": 8}
    shorter = _one(instant + "/embeddings", {"input": "is full", "dimensions": 8}).body
    assert len(shorter["data"][0]["embedding"]) == 8


@pytest.mark.parametrize("kind", ["http_500", "http_429", "malformed_sse", "disconnect", "error_event"])
def test_injected_failures_look_like_real_ones(kind: FailureKind) -> None:
    config = SimServerConfig(ttft=0, itl=1 * MS, fail_rate=1.0, failure_kinds=[kind])
    body = {"prompt": "hi", "max_tokens": 6, "stream": True, "ignore_eos": True}
    with spawn_sim_server(config) as url:
        result = _one(url + "/completions", body)
    if kind in ("http_500", "http_429"):
        assert result.status == int(kind[-3:])
        assert "simulated failure" in result.body["error"]["message"]
        return
    assert result.status == 200
    words = result.text().split()
    if kind == "malformed_sse":  # one broken event half-way, then the stream goes on
        assert [type(e).__name__ for e in result.data].count("tuple") == 1
        assert isinstance(result.data[3], tuple)  # after three of the six tokens
        assert len(words) == 6
        assert result.data[-1] == "[DONE]"
    elif kind == "disconnect":  # half the tokens, then the connection drops
        assert words == ["the", "field", "harvest"]
        assert result.error == "ClientPayloadError"
        assert "[DONE]" not in result.data
    else:  # half the tokens, an error object, then [DONE]
        assert words == ["the", "field", "harvest"]
        assert "simulated failure" in result.data[-2]["error"]["message"]
        assert result.data[-1] == "[DONE]"
