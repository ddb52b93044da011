"""Reading Hugging Face config.json files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlway.core.errors import ConfigError
from mlway.plan import Catalog, load_hf_config, spec_from_hf_config
from mlway.plan.quant import native_scheme

LLAMA_31_8B: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def test_llama_config_gives_the_catalog_architecture(catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_31_8B), encoding="utf-8")
    spec = load_hf_config(tmp_path)
    reference = catalog.model("llama-3.1-8b")
    assert spec.total_params == reference.total_params
    assert spec.kv_elements_per_token(1) == reference.kv_elements_per_token(1)


def test_catalog_accepts_a_config_path(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "my-model" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(LLAMA_31_8B), encoding="utf-8")
    assert catalog.model(str(path)).name == "my-model"


@pytest.mark.parametrize("missing", ["num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads"])
def test_a_missing_field_is_named(missing: str) -> None:
    config = {k: v for k, v in LLAMA_31_8B.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        spec_from_hf_config(config, name="broken")
    assert missing in str(err.value)


def test_gemma2_alternates_sliding_and_global_layers() -> None:
    spec = spec_from_hf_config(
        {"model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": 3584,
         "intermediate_size": 14336, "num_attention_heads": 16, "num_hidden_layers": 42, "num_key_value_heads": 8,
         "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192, "sliding_window": 4096},
        name="gemma",
    )  # fmt: skip
    assert spec.sliding_layers == 21
    assert spec.tie_embeddings
    # beyond the window a token only costs KV in the 21 global layers
    assert spec.kv_elements_per_token(1, context=8192) < spec.kv_elements_per_token(1)


def test_mixtral_config_is_a_mixture_of_experts() -> None:
    spec = spec_from_hf_config(
        {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 4096,
         "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
         "vocab_size": 32000, "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2},
        name="mixtral",
    )  # fmt: skip
    assert spec.is_moe
    assert spec.total_params / 1e9 == pytest.approx(46.7, rel=0.01)


def test_awq_quantization_config_selects_awq() -> None:
    config = LLAMA_31_8B | {"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128}}
    assert native_scheme(spec_from_hf_config(config, name="awq")).name == "awq-int4"


def test_xlm_roberta_is_an_encoder() -> None:
    spec = spec_from_hf_config(
        {"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"], "hidden_size": 1024,
         "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24, "vocab_size": 250002,
         "max_position_embeddings": 8194, "type_vocab_size": 1},
        name="bge",
    )  # fmt: skip
    assert spec.kind == "encoder"
    assert spec.total_params / 1e9 == pytest.approx(0.568, rel=0.01)
