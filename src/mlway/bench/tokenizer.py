"""Token counting with a local Hugging Face tokenizer directory (optional: needs transformers)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mlway.core.errors import DependencyMissingError, InputError

log = logging.getLogger(__name__)


class Tokenizer:
    """A thin wrapper over ``transformers.AutoTokenizer`` loaded from a local directory only."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise InputError(
                f"tokenizer directory {str(path)!r} does not exist",
                hint="pass a local directory with tokenizer.json or tokenizer.model (a Hugging Face "
                "model directory); mlway never downloads tokenizers",
            )
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from transformers import AutoTokenizer  # noqa: PLC0415 - heavy optional import
        except ImportError as exc:
            raise DependencyMissingError.for_extra("transformers", "bench") from exc
        try:
            self._tok: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot load a tokenizer from {str(path)!r}: {exc}") from exc
        self.path = path

    @property
    def eos_token_id(self) -> int | None:
        value = self._tok.eos_token_id
        return int(value) if value is not None else None

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode(ids, skip_special_tokens=True))

    def count(self, text: str) -> int:
        return len(self.encode(text))
