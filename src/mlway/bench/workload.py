"""What each request asks: synthetic prompts of target token lengths, or a JSONL dataset.

Synthetic prompts are random English words. With a tokenizer, a prompt is cut to the exact token
count; without one, the runner measures the server's tokens per word once (``calibrate``) and sizes
prompts from it. A per-run random salt (four random words) opens every prompt so a server's prefix
cache cannot reuse work from an earlier run; ``shared_prefix_tokens`` deliberately shares a prefix
within the run.

Input tokens are the tokens of the prompt text, as vLLM's and guidellm's benchmarks count them: the
tokens a server adds (BOS, a chat template) come on top and show in its usage.prompt_tokens.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from mlway.bench.lengths import LengthDist
from mlway.bench.tokenizer import Tokenizer
from mlway.core.errors import InputError

Endpoint = Literal["completions", "chat", "embeddings"]

_WORDS = (
    "time year people way day man thing woman life child world school state family student group "
    "country problem hand part place case week company system program question work government "
    "number night point home water room mother area money story fact month lot right study book eye "
    "job word business issue side kind head house service friend father power hour game line end "
    "member law car city community name president team minute idea kid body information back parent "
    "face others level office door health person art war history party result change morning reason "
    "research girl guy moment air teacher force education field grain harvest combine camera model "
    "river mountain valley engine signal network storage memory report market energy light sound"
).split()


@dataclass(slots=True)
class Prompt:
    """One request's input: a prompt string (completions, embeddings) or chat messages."""

    text: str | None
    messages: list[dict[str, Any]] | None
    input_tokens: int | None
    output_tokens: int | None


@dataclass(slots=True)
class TokenCalibration:
    """The server's token count for a prompt of ``words`` words: tokens = per_word*words + overhead
    (overhead: what the server adds, such as BOS and the chat template; not part of input tokens)."""

    per_word: float = 1.0
    overhead: int = 0
    measured: bool = False


class PromptFactory:
    """Makes the prompts of a run, deterministically by seed (apart from the per-run salt)."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        input_tokens: LengthDist,
        output_tokens: LengthDist | None,
        seed: int = 0,
        tokenizer: Tokenizer | None = None,
        dataset: Path | None = None,
        shared_prefix_tokens: int = 0,
        salt: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.tokenizer = tokenizer
        self.shared_prefix_tokens = shared_prefix_tokens
        self.salt = " ".join(secrets.choice(_WORDS) for _ in range(4)) if salt else ""
        self.calibration = TokenCalibration()
        self._rng = random.Random(seed)
        self._dataset = load_dataset(dataset) if dataset else None
        self._head = self.salt
        self._head_tokens = 0

    def prepare(self) -> None:
        """Build the salt and shared prefix every prompt opens with, once the calibration is known."""
        prefix = self._text_of(self.shared_prefix_tokens, random.Random(1234)) if self.shared_prefix_tokens else ""
        self._head = " ".join(part for part in (self.salt, prefix) if part)
        if self.tokenizer is not None:
            self._head_tokens = self.tokenizer.count(self._head) if self._head else 0
        else:
            self._head_tokens = round(len(self._head.split()) * self.calibration.per_word)

    def _words(self, count: int, rng: random.Random) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(max(count, 0)))

    def _text_of(self, tokens: int, rng: random.Random) -> str:
        """Random words with ``tokens`` tokens (exact with a tokenizer, calibrated otherwise)."""
        if self.tokenizer is not None:
            ids = self.tokenizer.encode(self._words(tokens + 8, rng))
            while len(ids) < tokens:
                ids += self.tokenizer.encode(" " + self._words(tokens, rng))
            return self.tokenizer.decode(ids[:tokens])
        words = round(tokens / self.calibration.per_word)
        return self._words(words, rng)

    def _synthetic(self) -> Prompt:
        target = self.input_tokens.sample(self._rng)
        body = self._text_of(max(target - self._head_tokens, 1), self._rng)
        text = f"{self._head} {body}" if self._head else body
        out = self.output_tokens.sample(self._rng) if self.output_tokens else None
        if self.endpoint == "chat":
            return Prompt(None, [{"role": "user", "content": text}], target, out)
        return Prompt(text, None, target, out)

    def __iter__(self) -> Iterator[Prompt]:
        if self._dataset is None:
            while True:
                yield self._synthetic()
        dataset = self._dataset
        while True:  # cycle through the dataset
            for item in dataset:
                out = item.output_tokens
                if out is None and self.output_tokens is not None:
                    out = self.output_tokens.sample(self._rng)
                yield Prompt(item.text, item.messages, item.input_tokens, out)


def load_dataset(path: Path) -> list[Prompt]:
    """Read a JSONL dataset: one object per line with ``prompt`` or ``messages`` (chat), and optionally
    ``output_tokens`` (or ``max_tokens``) and ``input_tokens``."""
    if not path.is_file():
        raise InputError(f"dataset {str(path)!r} does not exist", hint="pass a JSONL file: --dataset FILE")
    items: list[Prompt] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc})") from exc
            items.append(_dataset_item(obj, f"{path}:{number}"))
    if not items:
        raise InputError(f"dataset {str(path)!r} has no prompts")
    return items


def _dataset_item(obj: Any, where: str) -> Prompt:
    form = 'write {"prompt": "..."} or {"messages": [{"role": "user", "content": "..."}]} per line'
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object", hint=form)
    out = obj.get("output_tokens", obj.get("max_tokens"))
    if out is not None and (not isinstance(out, int) or out < 1):
        raise InputError(f"{where}: output_tokens must be a positive integer, got {out!r}")
    inp = obj.get("input_tokens")
    if isinstance(obj.get("prompt"), str):
        return Prompt(obj["prompt"], None, inp, out)
    messages = obj.get("messages")
    if isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages):
        return Prompt(None, messages, inp, out)
    raise InputError(f"{where}: needs a string 'prompt' or a non-empty list 'messages'", hint=form)
