"""The server under test: an OpenAI-compatible HTTP API, driven with aiohttp.

``OpenAITarget.send`` fills one :class:`RequestRecord` with the timestamps of the response: headers,
every streamed chunk, the first chunk with content, the end. Failures never raise: they are recorded
by kind (see ``records.ERROR_KINDS``) and the run continues.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import aiohttp
import orjson

from mlway.bench.records import RequestRecord
from mlway.bench.tokenizer import Tokenizer
from mlway.bench.workload import Endpoint, Prompt
from mlway.core.errors import TargetError

ForceOutput = Literal["auto", "ignore_eos", "logit_bias", "none"]
_PATHS = {"completions": "/completions", "chat": "/chat/completions", "embeddings": "/embeddings"}


@dataclass(slots=True)
class Timeouts:
    """Deadlines per phase; a timeout error names the one that fired."""

    connect: float = 10.0
    """--connect-timeout: seconds to open a connection."""
    read: float = 60.0
    """--read-timeout: seconds of silence allowed before the first byte and between chunks."""
    total: float = 600.0
    """--request-timeout: seconds for a whole request."""


@dataclass(slots=True)
class TargetSpec:
    """Where and how to send requests."""

    base_url: str
    model: str
    endpoint: Endpoint = "completions"
    stream: bool = True
    api_key: str | None = None
    force_output: ForceOutput = "auto"
    eos_token_id: int | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + _PATHS[self.endpoint]

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def build_body(spec: TargetSpec, prompt: Prompt) -> dict[str, Any]:
    """The JSON body of one request, forcing the output length where the server allows."""
    body: dict[str, Any] = {"model": spec.model}
    if spec.endpoint == "embeddings":
        body["input"] = prompt.text if prompt.text is not None else _flatten(prompt.messages)
        return body | spec.extra_body
    if spec.endpoint == "chat":
        body["messages"] = prompt.messages or [{"role": "user", "content": prompt.text or ""}]
    else:
        body["prompt"] = prompt.text if prompt.text is not None else _flatten(prompt.messages)
    if prompt.output_tokens is not None:
        body["max_tokens"] = prompt.output_tokens
        if spec.force_output in ("auto", "ignore_eos"):
            body["ignore_eos"] = True
        if spec.force_output in ("auto", "logit_bias") and spec.eos_token_id is not None:
            body["logit_bias"] = {str(spec.eos_token_id): -100}
    if spec.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body | spec.extra_body


def _flatten(messages: list[dict[str, Any]] | None) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages or [])


async def _stamp_written(_session: aiohttp.ClientSession, ctx: SimpleNamespace, _params: object) -> None:
    """``sent_at`` = when the request's headers, then each body chunk, were handed to the socket: the client's
    own work building the request is not the server's latency (it shows in queue_time instead)."""
    if isinstance(ctx.trace_request_ctx, tuple):  # a measured request (not a models or metrics query)
        record, zero = ctx.trace_request_ctx
        record.sent_at = time.perf_counter() - zero


class OpenAITarget:
    """Sends requests over one pooled aiohttp session."""

    def __init__(self, spec: TargetSpec, *, tokenizer: Tokenizer | None = None, pool: int = 0) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self._pool = pool
        self._session: aiohttp.ClientSession | None = None
        self._url = spec.url
        self._headers = spec.headers()
        self._kind = spec.endpoint

    async def __aenter__(self) -> OpenAITarget:
        timeouts = self.spec.timeouts
        written = aiohttp.TraceConfig()
        written.on_request_headers_sent.append(_stamp_written)
        written.on_request_chunk_sent.append(_stamp_written)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool, ttl_dns_cache=300, enable_cleanup_closed=True),
            trace_configs=[written],
            timeout=aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("OpenAITarget used outside 'async with'")
        return self._session

    async def send(self, prompt: Prompt, record: RequestRecord, clock_zero: float) -> None:
        """Send one request and fill ``record`` (times relative to ``clock_zero``)."""
        perf = time.perf_counter
        body = orjson.dumps(build_body(self.spec, prompt))
        record.input_tokens_target = prompt.input_tokens
        record.output_tokens_target = prompt.output_tokens
        record.sent_at = perf() - clock_zero  # replaced by the time its last byte went to the socket
        try:
            async with self.session.post(
                self._url, data=body, headers=self._headers, trace_request_ctx=(record, clock_zero)
            ) as resp:
                record.headers_at = perf() - clock_zero
                record.status = resp.status
                if resp.status >= 400:
                    text = (await resp.read())[:300].decode("utf-8", "replace")
                    record.error_kind = "http_4xx" if resp.status < 500 else "http_5xx"
                    record.error = f"HTTP {resp.status}: {text}"
                elif self.spec.stream and self._kind != "embeddings":
                    await self._read_stream(resp, record, clock_zero)
                else:
                    await self._read_body(resp, record, clock_zero)
        except aiohttp.ClientConnectorError as exc:
            record.error_kind, record.error = "connect", f"cannot connect: {exc}"
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            record.error_kind, record.error = "disconnected", f"server closed the connection: {exc}"
        except TimeoutError:
            record.error_kind = "timeout"
            record.error = self._timeout_message(record)
        except aiohttp.ClientError as exc:
            record.error_kind, record.error = "other", f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            record.error_kind, record.error = "cancelled", "the run stopped before the request finished"
            record.end_at = perf() - clock_zero
            raise
        record.end_at = perf() - clock_zero

    def _timeout_message(self, record: RequestRecord) -> str:
        t = self.spec.timeouts
        if record.headers_at is None and record.status is None:
            return f"no response within the connect/read deadlines ({t.connect:g} s / {t.read:g} s)"
        return (
            f"timed out after the response started: --read-timeout {t.read:g} s between chunks or "
            f"--request-timeout {t.total:g} s in total"
        )

    async def _read_stream(  # noqa: PLR0912 - the per-chunk hot loop stays inline for speed
        self, resp: aiohttp.ClientResponse, record: RequestRecord, zero: float
    ) -> None:
        perf = time.perf_counter
        chat = self._kind == "chat"
        chunk_times = record.chunk_times
        keep_text = self.tokenizer is not None
        texts: list[str] = []
        done = finished = False
        usage: dict[str, Any] | None = None
        async for raw in resp.content:
            now = perf() - zero
            line = raw.strip()
            if not line or line.startswith(b":"):
                continue
            if not line.startswith(b"data:"):
                continue  # event:, id:, retry: fields carry nothing we measure
            payload = line[5:].strip()
            if payload == b"[DONE]":
                done = True
                break
            record.events += 1
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError:
                record.error_kind = "sse_malformed"
                record.error = f"invalid JSON in SSE data: {payload[:120]!r}"
                return
            if "error" in obj:
                record.error_kind, record.error = "stream_error", f"error event: {str(obj['error'])[:300]}"
                return
            choices = obj.get("choices")
            if choices:
                choice = choices[0]
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if text:
                    if record.first_content_at is None:
                        record.first_content_at = now
                    chunk_times.append(now)
                    if keep_text:
                        texts.append(text)
                if choice.get("finish_reason"):
                    finished = True
            if obj.get("usage"):
                usage = obj["usage"]
        if not done and not finished:
            record.error_kind, record.error = "stream_error", "the stream ended without [DONE]"
            return
        self._set_tokens(record, usage, texts, len(chunk_times))

    async def _read_body(self, resp: aiohttp.ClientResponse, record: RequestRecord, zero: float) -> None:
        raw = await resp.read()
        now = time.perf_counter() - zero
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            record.error_kind, record.error = "sse_malformed", f"invalid JSON body: {raw[:120]!r}"
            return
        if self._kind == "embeddings":
            data = obj.get("data")
            if not isinstance(data, list) or not data:
                record.error_kind, record.error = "other", "embeddings response has no 'data'"
                return
            record.first_content_at = now
            usage = obj.get("usage") or {}
            record.prompt_tokens = usage.get("prompt_tokens")
            record.completion_tokens = 0
            record.tokens_source = "usage" if usage else "none"
            return
        choices = obj.get("choices") or [{}]
        choice = choices[0]
        text = (choice.get("message") or {}).get("content") if self._kind == "chat" else choice.get("text")
        if text:
            record.first_content_at = now
            record.chunk_times.append(now)
        self._set_tokens(record, obj.get("usage"), [text] if text else [], 1 if text else 0)

    def _set_tokens(self, record: RequestRecord, usage: dict[str, Any] | None, texts: list[str], chunks: int) -> None:
        if usage and usage.get("completion_tokens") is not None:
            record.prompt_tokens = usage.get("prompt_tokens")
            record.completion_tokens = int(usage["completion_tokens"])
            record.tokens_source = "usage"
            return
        if usage:
            record.prompt_tokens = usage.get("prompt_tokens")
        if self.tokenizer is not None:
            record.completion_tokens = self.tokenizer.count("".join(texts))
            record.tokens_source = "tokenizer"
        else:
            record.completion_tokens = chunks
            record.tokens_source = "chunks"


async def list_models(base_url: str, *, api_key: str | None, timeouts: Timeouts) -> list[dict[str, Any]]:
    """GET /models, translating failures into a TargetError that says what to check."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=timeouts.connect + timeouts.read, sock_connect=timeouts.connect)
    url = base_url.rstrip("/") + "/models"
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as r:
            if r.status in (401, 403):
                raise TargetError(f"{url} refused the API key (HTTP {r.status})", hint="pass --api-key")
            if r.status >= 400:
                raise TargetError(f"{url} answered HTTP {r.status}: {(await r.text())[:200]}")
            data = orjson.loads(await r.read()).get("data", [])
    except aiohttp.ClientConnectorError as exc:
        raise TargetError(
            f"cannot reach the server at {base_url}: {exc.os_error or exc}",
            hint="is the server running? check --url (it should end in /v1)",
        ) from exc
    except TimeoutError as exc:
        raise TargetError(
            f"no answer from {url} within {timeouts.connect:g} s (--connect-timeout)",
            hint="check --url, or raise --connect-timeout for a slow server",
        ) from exc
    except (aiohttp.ClientError, orjson.JSONDecodeError) as exc:
        raise TargetError(f"{url} did not answer like an OpenAI-compatible server: {exc}") from exc
    return [m for m in data if isinstance(m, dict)]
