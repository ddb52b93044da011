"""Text preprocessing: tokenize with the bundle's tokenizer, pad to the longest text, pool as declared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlway.core.errors import ConfigError
from mlway.runtime import TensorSpec, TextPreprocessing
from mlway.serve.text import TextEncoder

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture
def tokenizer_file(tmp_path: Path) -> Path:
    """A word-level tokenizer that adds [CLS] and [SEP] like BERT's."""
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "grain": 4, "field": 5, "harvest": 6}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def encoder(path: Path, **pre: object) -> TextEncoder:
    inputs = [TensorSpec(name=n, dtype="int64", shape=["batch", "seq"]) for n in ("input_ids", "attention_mask")]
    output = TensorSpec(name="hidden", dtype="float32", shape=["batch", "seq", 2])
    return TextEncoder(path, TextPreprocessing(tokenizer=".", **pre), inputs, output, model="t")  # type: ignore[arg-type]


def test_texts_are_padded_to_the_longest_with_a_mask(tokenizer_file: Path) -> None:
    feeds, mask = encoder(tokenizer_file).encode(["grain", "harvest field grain", "tractor"])
    assert sorted(feeds) == ["attention_mask", "input_ids"]
    assert feeds["input_ids"].tolist() == [[2, 4, 3, 0, 0], [2, 6, 5, 4, 3], [2, 1, 3, 0, 0]]
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]


def test_long_texts_are_cut_at_max_length(tokenizer_file: Path) -> None:
    feeds, _ = encoder(tokenizer_file, max_length=4).encode(["grain " * 10])
    assert feeds["input_ids"].shape == (1, 4)


def test_mean_pooling_ignores_padding_and_normalizes(tokenizer_file: Path) -> None:
    enc = encoder(tokenizer_file)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    hidden = np.array([[[3, 0], [3, 8], [100, 100]], [[0, 2], [50, 50], [50, 50]]], dtype=np.float32)
    vectors = enc.pool({"hidden": hidden}, mask)
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0]], atol=1e-6)  # means (3, 4) and (0, 2), unit length


def test_cls_pooling_without_normalizing(tokenizer_file: Path) -> None:
    enc = encoder(tokenizer_file, pooling="cls", normalize=False)
    hidden = np.array([[[3, 4], [9, 9]]], dtype=np.float32)
    np.testing.assert_allclose(enc.pool({"hidden": hidden}, np.array([[1, 1]])), [[3, 4]])


def test_inputs_text_cannot_feed_are_refused(tokenizer_file: Path) -> None:
    with pytest.raises(ConfigError, match="cannot feed inputs"):
        TextEncoder(
            tokenizer_file, TextPreprocessing(tokenizer="."),
            [TensorSpec(name="pixels", dtype="float32", shape=["batch", 3])],
            TensorSpec(name="hidden", dtype="float32", shape=["batch", "seq", 2]), model="t",
        )  # fmt: skip
