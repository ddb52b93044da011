"""Request bodies: sim token counts, the knobs that set output length, and what a bad body is told."""

import pytest

from mlway.bench.simserver import CHAT_TOKENS_PER_MESSAGE
from mlway.bench.simserver.requests import parse_generation
from mlway.core.errors import InputError


def test_a_completion_prompt_counts_one_token_per_word() -> None:
    request = parse_generation({"prompt": "one two  three\nfour", "max_tokens": 7}, chat=False)
    assert (request.prompt_tokens, request.max_tokens, request.stream) == (4, 7, False)


def test_a_prompt_of_token_ids_counts_the_ids() -> None:
    assert parse_generation({"prompt": [5, 6, 7]}, chat=False).prompt_tokens == 3
    assert parse_generation({"prompt": [[5, 6]]}, chat=False).prompt_tokens == 2


def test_chat_prompts_count_words_of_every_message_plus_a_fixed_overhead() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}, {"type": "image_url"}]},
        ]
    }
    assert parse_generation(body, chat=True).prompt_tokens == 4 + 2 * CHAT_TOKENS_PER_MESSAGE


def test_max_completion_tokens_wins_over_max_tokens_in_chat() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "max_completion_tokens": 3}
    assert parse_generation(body, chat=True).max_tokens == 3


@pytest.mark.parametrize(
    ("extra", "ignore_eos"),
    [({}, False), ({"ignore_eos": True}, True), ({"logit_bias": {"2": -100}}, True), ({"logit_bias": {"2": 5}}, False)],
)
def test_ignore_eos_or_a_banned_eos_token_means_full_length(extra: dict[str, object], ignore_eos: bool) -> None:
    assert parse_generation({"prompt": "hi", **extra}, chat=False).ignore_eos is ignore_eos


def test_usage_in_streams_is_asked_for_with_stream_options() -> None:
    body = {"prompt": "hi", "stream": True, "stream_options": {"include_usage": True}}
    assert parse_generation(body, chat=False).include_usage


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "hi", "max_tokens": 0}, "'max_tokens' must be at least 1, got 0"),
        ({"prompt": "hi", "max_tokens": "5"}, "'max_tokens' must be an integer, got str"),
        ({"prompt": "hi", "stream": "yes"}, "'stream' must be true or false"),
        ({"prompt": "hi", "stream_options": {"include_usage": True}}, "only be set when 'stream' is true"),
        ({"prompt": "hi", "n": 2}, "'n' must be 1"),
        ({"prompt": ["a", "b"]}, "one prompt per request"),
        ({"max_tokens": 5}, "'prompt' is required"),
        ({"prompt": "hi", "min_tokens": 9, "max_tokens": 3}, "'min_tokens' \\(9\\) must not exceed"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_completion_bodies_say_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_generation(body, chat=False)


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (None, "'messages' is required"),
        ([], "'messages' is required"),
        ([{"content": "hi"}], r"'messages\[0\]' must be an object with a string 'role'"),
        ([{"role": "user", "content": 5}], r"'messages\[0\].content' must be a string or a list of parts"),
        ([{"role": "user", "content": [{"type": "text"}]}], r"content\[0\].text' must be a string"),
    ],
)
def test_bad_chat_messages_say_which_message_is_wrong(messages: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_generation({"messages": messages}, chat=True)
