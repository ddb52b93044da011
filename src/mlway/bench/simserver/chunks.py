"""Encoding of responses the way vLLM and OpenAI write them.

A streamed chat response is, in order: a role chunk (``delta: {"role": "assistant", "content": ""}``),
one chunk per group of ``tokens_per_chunk`` tokens, a final chunk with an empty delta and the
``finish_reason``, a usage-only chunk with empty ``choices`` when ``stream_options.include_usage`` is
set, then ``data: [DONE]``. Completions are the same without the role chunk and with ``text`` in
place of ``delta``. Chunk bytes are assembled from pre-encoded pieces: no JSON encoding per token.
"""

from __future__ import annotations

from typing import Any

import orjson

from mlway.bench.simserver.http_errors import error_payload
from mlway.bench.simserver.words import output_json, output_text

DONE = b"data: [DONE]\n\n"
_OPEN_CHOICE = b',"choices":[{"index":0,'
_CLOSE_CHOICE = b',"logprobs":null,"finish_reason":null}]}\n\n'


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


class StreamEncoder:
    """Builds the SSE events of one streamed response."""

    def __init__(self, *, chat: bool, request_id: str, created: int, model: str) -> None:
        self.chat = chat
        self._fields = {
            "id": request_id,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
        }
        head = b"data: " + orjson.dumps(self._fields)[:-1] + _OPEN_CHOICE
        self._head = head
        self._content_head = head + (b'"delta":{"content":' if chat else b'"text":')
        self._content_tail = (b"}" if chat else b"") + _CLOSE_CHOICE

    def role(self) -> bytes:
        """The chat role chunk, sent with the first token (empty for completions)."""
        if not self.chat:
            return b""
        return self._head + b'"delta":{"role":"assistant","content":""}' + _CLOSE_CHOICE

    def content(self, start: int, count: int) -> bytes:
        """The chunk carrying output tokens ``start .. start+count-1``."""
        return self._content_head + output_json(start, count) + self._content_tail

    def finish(self, reason: str) -> bytes:
        body = b'"delta":{}' if self.chat else b'"text":""'
        return self._head + body + b',"logprobs":null,"finish_reason":"' + reason.encode() + b'"}]}\n\n'

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        event: dict[str, object] = {**self._fields, "choices": [], "usage": usage(prompt_tokens, completion_tokens)}
        return b"data: " + orjson.dumps(event) + b"\n\n"

    @staticmethod
    def error(status: int, message: str) -> bytes:
        return b"data: " + orjson.dumps(error_payload(status, message)) + b"\n\n"

    def malformed(self) -> bytes:
        """An event whose JSON is cut short, as a buggy proxy or server might send."""
        return self._content_head + b'" broken\n\n'


def full_response(
    *, chat: bool, request_id: str, created: int, model: str, prompt_tokens: int, output_tokens: int, reason: str
) -> dict[str, Any]:
    """The body of a non-streamed response."""
    text = output_text(0, output_tokens)
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": reason}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {
        "id": request_id,
        "object": "chat.completion" if chat else "text_completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage(prompt_tokens, output_tokens),
    }
