"""Validation of generation request bodies, by hand for speed; every error names the field.

Fields a real server honours and the sim does not need (temperature, top_p, stop, ...) are accepted
and ignored, as OpenAI clients send many of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlway.bench.simserver.words import CHAT_TOKENS_PER_MESSAGE, count_words
from mlway.core.errors import InputError

EOS_ID = "2"
"""The end-of-sequence token id; a logit_bias of -100 or less on it means "never stop early"."""


_KIND_NAMES = {int: "an integer", bool: "true or false", str: "a string", dict: "an object"}


@dataclass(slots=True, frozen=True)
class GenerationRequest:
    """What the sim needs from a /v1/completions or /v1/chat/completions body."""

    model: str | None
    prompt_tokens: int
    prompt_key: str
    """The prompt as text: the seed of the request's natural (early-stop) length."""
    max_tokens: int | None
    min_tokens: int
    ignore_eos: bool
    stream: bool
    include_usage: bool


def _optional(body: dict[str, Any], name: str, kind: type, default: Any, *, parent: str = "") -> Any:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"'{parent}{name}' must be {_KIND_NAMES[kind]}, got {type(value).__name__} {value!r:.60}")
    return value


def _count(body: dict[str, Any], name: str, *, minimum: int) -> int | None:
    value: int | None = _optional(body, name, int, None)
    if value is not None and value < minimum:
        raise InputError(f"'{name}' must be at least {minimum}, got {value}")
    return value


def _completion_prompt(body: dict[str, Any]) -> tuple[int, str]:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # a batch of one prompt
    if isinstance(prompt, str):
        return count_words(prompt), prompt
    if isinstance(prompt, list) and prompt and all(type(t) is int for t in prompt):
        return len(prompt), str(prompt)
    if prompt is None:
        raise InputError("'prompt' is required: a string or a list of token ids")
    raise InputError(
        "'prompt' must be a string, a list of token ids, or a list holding one of those "
        "(the sim serves one prompt per request)"
    )


def _message_text(index: int, message: object) -> str:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise InputError(f"'messages[{index}]' must be an object with a string 'role'")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InputError(f"'messages[{index}].content' must be a string or a list of parts")
    texts: list[str] = []
    for part_index, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InputError(f"'messages[{index}].content[{part_index}]' must be an object with a 'type'")
        if part["type"] == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise InputError(f"'messages[{index}].content[{part_index}].text' must be a string")
            texts.append(text)
    return " ".join(texts)


def _chat_prompt(body: dict[str, Any]) -> tuple[int, str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InputError("'messages' is required: a non-empty list of {role, content} objects")
    texts = [_message_text(i, m) for i, m in enumerate(messages)]
    words = sum(count_words(t) for t in texts)
    return words + CHAT_TOKENS_PER_MESSAGE * len(messages), "\n".join(texts)


def _bans_eos(body: dict[str, Any]) -> bool:
    bias = _optional(body, "logit_bias", dict, {})
    value = bias.get(EOS_ID)
    return isinstance(value, int | float) and not isinstance(value, bool) and value <= -100


def parse_generation(body: object, *, chat: bool) -> GenerationRequest:
    """Check a decoded JSON body; raise :class:`InputError` saying what is wrong."""
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    model = _optional(body, "model", str, None)
    prompt_tokens, prompt_key = _chat_prompt(body) if chat else _completion_prompt(body)
    max_tokens = _count(body, "max_tokens", minimum=1)
    if chat:
        max_tokens = _count(body, "max_completion_tokens", minimum=1) or max_tokens
    min_tokens = _count(body, "min_tokens", minimum=0) or 0
    if max_tokens is not None and min_tokens > max_tokens:
        raise InputError(f"'min_tokens' ({min_tokens}) must not exceed the maximum ({max_tokens})")
    if (_count(body, "n", minimum=1) or 1) != 1:
        raise InputError("'n' must be 1: the sim returns one choice per request")
    stream = _optional(body, "stream", bool, False)
    options = _optional(body, "stream_options", dict, None)
    if options is not None and not stream:
        raise InputError("'stream_options' can only be set when 'stream' is true")
    include_usage = _optional(options or {}, "include_usage", bool, False, parent="stream_options.")
    return GenerationRequest(
        model=model,
        prompt_tokens=prompt_tokens,
        prompt_key=prompt_key,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=_optional(body, "ignore_eos", bool, False) or _bans_eos(body),
        stream=stream,
        include_usage=include_usage,
    )
