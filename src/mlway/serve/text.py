"""Text models: tokenize with the tokenizer a bundle ships, and pool token vectors as it declares.

Mirrors sentence-transformers for BERT-style encoders: the tokenizer adds the special tokens, cuts
each text at ``max_length`` tokens and pads the batch to its longest text; ``mean`` pooling averages
the token vectors under the attention mask, ``cls`` takes the first token, ``none`` means the model
already returns one vector per text; ``normalize`` scales each vector to unit length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mlway.core.errors import ConfigError, DependencyMissingError
from mlway.runtime import Bundle, TensorSpec, TextPreprocessing

FEEDS = ("input_ids", "attention_mask", "token_type_ids")
_PAD_TOKENS = ("[PAD]", "<pad>", "<PAD>")


class TextEncoder:
    """Tokenizer and pooling of one text model; thread-safe (run it off the event loop)."""

    def __init__(
        self, tokenizer_file: Path, preprocessing: TextPreprocessing, inputs: list[TensorSpec], output: TensorSpec,
        *, model: str,
    ) -> None:  # fmt: skip
        try:
            from tokenizers import Tokenizer  # noqa: PLC0415 - optional, only text models need it
        except ImportError as exc:
            raise DependencyMissingError.for_extra("tokenizers", "serve") from exc
        self.model = model
        self.preprocessing = preprocessing
        if not tokenizer_file.is_file():
            raise ConfigError(
                f"model {model!r}: no tokenizer at {tokenizer_file}",
                hint="preprocessing.tokenizer names a directory holding tokenizer.json (a Hugging Face fast tokenizer)",
            )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=preprocessing.max_length)
        pad_id, pad_token = self._pad()
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self.feeds = inputs
        unknown = [s.name for s in inputs if s.name not in FEEDS]
        if unknown:
            raise ConfigError(
                f"model {model!r}: text preprocessing cannot feed inputs {unknown}",
                hint=f"a text model's inputs are among {', '.join(FEEDS)}",
            )
        want = 2 if preprocessing.pooling == "none" else 3
        if len(output.shape) != want:
            raise ConfigError(
                f"model {model!r}: pooling {preprocessing.pooling!r} needs a {want}-d first output, "
                f"{output.describe()} has {len(output.shape)} dims",
                hint="mean/cls pool token vectors [batch, tokens, dim]; none takes [batch, dim] as it is",
            )
        self.output = output.name
        last = output.shape[-1]
        self.dimensions = last if isinstance(last, int) else None

    @classmethod
    def for_bundle(cls, bundle: Bundle, preprocessing: TextPreprocessing) -> TextEncoder:
        manifest = bundle.manifest
        path = bundle.path_of(preprocessing.tokenizer)
        file = path / "tokenizer.json" if path.is_dir() else path
        return cls(file, preprocessing, list(manifest.inputs), manifest.outputs[0], model=manifest.name)

    @classmethod
    def standalone(cls, tokenizer_dir: Path, preprocessing: TextPreprocessing, dimensions: int = 384) -> TextEncoder:
        """A BERT-style encoder outside any bundle (input_ids, attention_mask, token_type_ids -> token vectors)."""
        inputs = [TensorSpec(name=n, dtype="int64", shape=["batch", "sequence"]) for n in FEEDS]
        output = TensorSpec(name="last_hidden_state", dtype="float32", shape=["batch", "sequence", dimensions])
        return cls(tokenizer_dir / "tokenizer.json", preprocessing, inputs, output, model="standalone")

    def _pad(self) -> tuple[int, str]:
        padding = self.tokenizer.padding
        if padding:
            return int(padding["pad_id"]), str(padding["pad_token"])
        for token in _PAD_TOKENS:
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                return int(token_id), token
        return 0, "[PAD]"

    def encode(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Model inputs for ``texts`` (padded to the longest) and the attention mask."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        columns = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {spec.name: columns[spec.name].astype(spec.dtype, copy=False) for spec in self.feeds}
        return feeds, mask

    def pool(self, outputs: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        """One float32 vector per text from the model's first output."""
        hidden = np.asarray(outputs[self.output], dtype=np.float32)
        pooling = self.preprocessing.pooling
        if pooling == "mean":
            weights = mask[:, : hidden.shape[1], None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        elif pooling == "cls":
            vectors = hidden[:, 0, :]
        else:
            vectors = hidden
        if self.preprocessing.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.clip(norms, 1e-12, None)
        return np.ascontiguousarray(vectors, dtype=np.float32)
