"""POST /v1/completions and /v1/chat/completions, streamed or not.

Streamed responses send their headers at once; chunks follow as the engine emits them (in capacity
mode, all at once). Injected faults show up half-way through the output (see ``FailureKind``);
non-streamed requests show theirs when the response would have been sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import orjson
from aiohttp import web

from mlway.bench.simserver.chunks import DONE, StreamEncoder, full_response
from mlway.bench.simserver.engine import Sequence
from mlway.bench.simserver.http_errors import error_response
from mlway.bench.simserver.outcome import Outcome
from mlway.bench.simserver.requests import GenerationRequest, parse_generation
from mlway.bench.simserver.state import STATE, SimState, read_json
from mlway.core.errors import InputError

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_FAULT_MESSAGE = "simulated failure injected by mlway sim-server (fail_rate)"


class _ChunkSource(Protocol):
    async def next_chunks(self) -> list[int]: ...


class _Instant:
    """Capacity mode: every chunk is ready at once."""

    def __init__(self, tokens: int, per_chunk: int) -> None:
        full, rest = divmod(tokens, per_chunk)
        self._sizes = [per_chunk] * full + ([rest] if rest else [])

    async def next_chunks(self) -> list[int]:
        sizes, self._sizes = self._sizes, []
        return sizes


@dataclass(slots=True)
class _Job:
    """One accepted generation request on its way out."""

    request: web.Request
    state: SimState
    req: GenerationRequest
    outcome: Outcome
    chat: bool

    @property
    def endpoint(self) -> str:
        return "chat" if self.chat else "completions"

    def count_fault(self) -> None:
        assert self.outcome.fault is not None
        self.state.counters.faults[self.outcome.fault] += 1
        self.state.counters.requests[self.endpoint, "fault"] += 1

    def count_success(self) -> None:
        self.state.counters.finished[self.outcome.finish_reason] += 1
        self.state.counters.requests[self.endpoint, "ok"] += 1


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=True)


async def completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=False)


async def _generate(request: web.Request, *, chat: bool) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        req = parse_generation(await read_json(request), chat=chat)
        state.check_model(req.model)
        outcome = state.planner.plan(req)
        state.engine.check_fits(req.prompt_tokens, outcome.output_tokens)
    except InputError:
        state.counters.requests["chat" if chat else "completions", "invalid"] += 1
        raise
    state.counters.prompt_tokens += req.prompt_tokens
    job = _Job(request, state, req, outcome, chat)
    if outcome.fault in ("http_500", "http_429"):
        job.count_fault()
        return error_response(429 if outcome.fault == "http_429" else 500, _FAULT_MESSAGE)
    if state.config.capacity_mode:
        state.counters.in_flight_instant += 1
        try:
            return await _respond(job, _Instant(outcome.output_tokens, state.config.tokens_per_chunk))
        finally:
            state.counters.in_flight_instant -= 1
            state.counters.instant_generated_tokens += outcome.output_tokens
    seq = state.engine.submit(req.prompt_tokens, outcome.output_tokens)
    try:
        return await _respond(job, seq)
    finally:
        state.engine.cancel(seq)  # a no-op unless the client left early


async def _respond(job: _Job, source: _ChunkSource) -> web.StreamResponse:
    request_id = job.state.next_id("chatcmpl" if job.chat else "cmpl")
    created = int(time.time())
    if job.req.stream:
        model = job.state.config.model
        encoder = StreamEncoder(chat=job.chat, request_id=request_id, created=created, model=model)
        return await _stream(job, source, encoder)
    sent = 0
    while sent < job.outcome.output_tokens and (chunks := await source.next_chunks()):
        sent += sum(chunks)
    if job.outcome.fault is not None:
        job.count_fault()
        if job.outcome.fault == "malformed_sse":
            return web.Response(body=b'{"id": "' + request_id.encode(), content_type="application/json")
        if job.outcome.fault == "disconnect":
            _drop_connection(job.request)
        return error_response(500, _FAULT_MESSAGE)
    body = full_response(
        chat=job.chat,
        request_id=request_id,
        created=created,
        model=job.state.config.model,
        prompt_tokens=job.req.prompt_tokens,
        output_tokens=job.outcome.output_tokens,
        reason=job.outcome.finish_reason,
    )
    job.count_success()
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _stream(job: _Job, source: _ChunkSource, encoder: StreamEncoder) -> web.StreamResponse:
    outcome, req = job.outcome, job.req
    response = web.StreamResponse(headers=_SSE_HEADERS)
    await response.prepare(job.request)
    total, sent, fault = outcome.output_tokens, 0, outcome.fault
    try:
        while sent < total and (chunks := await source.next_chunks()):
            parts = [encoder.role()] if sent == 0 else []
            for tokens in chunks:
                if fault is not None and sent >= outcome.fault_at:
                    if fault != "malformed_sse":
                        return await _fail_stream(job, response, parts)
                    parts.append(encoder.malformed())
                    job.count_fault()
                    fault = None
                parts.append(encoder.content(sent, tokens))
                sent += tokens
            if sent >= total:
                parts.append(encoder.finish(outcome.finish_reason))
                if req.include_usage:
                    parts.append(encoder.usage(req.prompt_tokens, total))
                parts.append(DONE)
            await response.write(b"".join(parts))
            if isinstance(source, Sequence):
                job.state.counters.lateness.observe(time.perf_counter() - source.due)
        await response.write_eof()
    except ConnectionResetError:
        job.state.counters.requests[job.endpoint, "disconnected"] += 1
        return response
    if outcome.fault is None:
        job.count_success()
    return response


async def _fail_stream(job: _Job, response: web.StreamResponse, parts: list[bytes]) -> web.StreamResponse:
    """Inject a mid-stream ``error_event`` or ``disconnect`` after the chunks in ``parts``."""
    job.count_fault()
    if job.outcome.fault == "error_event":
        parts += [StreamEncoder.error(500, _FAULT_MESSAGE), DONE]
    await response.write(b"".join(parts))
    if job.outcome.fault == "disconnect":
        _drop_connection(job.request)
    else:
        await response.write_eof()
    return response


def _drop_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
