"""Sim tokens: one token is one whitespace-separated word.

- A completion prompt of N words is N prompt tokens (a list of token ids counts one per id).
- A chat prompt is the words of every message's content (a string, or the ``text`` of its parts) plus
  :data:`CHAT_TOKENS_PER_MESSAGE` per message for the role and the template's delimiters.
- Output token ``i`` of every response is ``VOCABULARY[i % len(VOCABULARY)]``, written as ``" word"``,
  so splitting the output on whitespace gives back exactly ``completion_tokens`` words.
"""

from __future__ import annotations

import orjson

CHAT_TOKENS_PER_MESSAGE = 4
"""Prompt tokens each chat message adds on top of its content's words (role + template markers)."""

VOCABULARY: tuple[str, ...] = (
    "the", "field", "harvest", "model", "runs", "on", "a", "small", "board", "and", "it", "keeps",
    "working", "through", "dust", "heat", "rain", "while", "camera", "frames", "arrive", "every",
    "second", "from", "grain", "tank", "to", "cutter", "bar", "with", "steady", "latency", "under",
    "load", "tokens", "stream", "back", "quickly", "as", "server", "batches", "requests", "in",
    "order", "without", "dropping", "any", "bytes", "today", "again",
)  # fmt: skip

_WORD_JSON: tuple[bytes, ...] = tuple(orjson.dumps(" " + word) for word in VOCABULARY)


def count_words(text: str) -> int:
    """Sim tokens in ``text``."""
    return len(text.split())


def output_text(start: int, count: int) -> str:
    """The text of output tokens ``start .. start+count-1``, each as ``" word"``."""
    size = len(VOCABULARY)
    return "".join(" " + VOCABULARY[i % size] for i in range(start, start + count))


def output_json(start: int, count: int) -> bytes:
    """:func:`output_text` as a JSON string literal (fast path for one token)."""
    if count == 1:
        return _WORD_JSON[start % len(VOCABULARY)]
    return orjson.dumps(output_text(start, count))
