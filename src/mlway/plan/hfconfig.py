"""Read a Hugging Face ``config.json`` into a :class:`ModelSpec`.

Each field is looked up under the names the common architectures use (``num_hidden_layers`` or
``n_layer``...). A required field that no name provides is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from mlway.core.errors import ConfigError, InputError, NotFoundError
from mlway.plan.modelspec import ModelSpec, QuantizationConfig

_KEYS: dict[str, tuple[str, ...]] = {
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
    "num_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"),
}
_PLAIN_MLP = {"bert", "roberta", "xlm-roberta", "gptj", "gpt2", "gpt_neox", "opt", "falcon", "gpt_bigcode"}
_ENCODERS = {"bert", "roberta", "xlm-roberta", "deberta-v2", "nomic_bert"}
_UNTIED_BY_DEFAULT = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "gptj"}
_QKV_BIAS = {"qwen2", "qwen2_moe"}
_ALL_BIAS = {"bert", "roberta", "xlm-roberta", "gpt2", "gpt_neox"}
_NORMS = {"gemma2": 4, "gemma3": 4, "gptj": 1}
_LEARNED_POSITIONS = {"bert", "roberta", "xlm-roberta", "gpt2", "opt"}


def load_hf_config(path: Path) -> ModelSpec:
    """A spec from a ``config.json`` file, or a directory holding one."""
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise NotFoundError(f"no config.json at {path}", hint="give a config.json file or its model directory")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {file}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file} is not a JSON object")
    return spec_from_hf_config(data, name=file.parent.name or file.stem, source=str(file))


def _get(cfg: dict[str, Any], field: str, *, required: bool = True) -> Any:
    for key in _KEYS[field]:
        if cfg.get(key) is not None:
            return cfg[key]
    if required:
        raise ConfigError(
            f"config.json has no {field} (looked for {', '.join(_KEYS[field])})",
            hint=f'add "{_KEYS[field][0]}" to the config, or use a catalog model name',
        )
    return None


def _model_type(cfg: dict[str, Any]) -> str:
    text = cfg.get("text_config")
    if isinstance(text, dict) and "num_hidden_layers" not in cfg:
        cfg.update({k: v for k, v in text.items() if k not in cfg})
        return str(text.get("model_type") or cfg.get("model_type") or "")
    return str(cfg.get("model_type") or "")


def _sliding(cfg: dict[str, Any], model_type: str, layers: int) -> tuple[int | None, int]:
    layer_types = cfg.get("layer_types")
    window = cfg.get("sliding_window")
    if isinstance(layer_types, list):
        count = sum(1 for t in layer_types if "sliding" in str(t))
        return (int(window), count) if window and count else (None, 0)
    if not window or cfg.get("use_sliding_window") is False:
        return None, 0
    if model_type == "gemma2":
        return int(window), layers // 2
    pattern = cfg.get("sliding_window_pattern")
    if isinstance(pattern, int) and pattern > 1:
        return int(window), layers - layers // pattern
    if int(window) >= int(cfg.get("max_position_embeddings") or 0) > 0:
        return None, 0
    return int(window), layers


def _quantization(cfg: dict[str, Any]) -> QuantizationConfig | None:
    raw = cfg.get("quantization_config")
    if not isinstance(raw, dict):
        return None
    method = str(raw.get("quant_method") or raw.get("quant_algo") or "unknown").lower()
    bits = raw.get("bits") or raw.get("w_bit")
    group = raw.get("group_size") or raw.get("q_group_size")
    kv = raw.get("kv_cache_quant_algo") or raw.get("kv_cache_scheme")
    if method == "compressed-tensors":
        groups = raw.get("config_groups") or {}
        first: Any = next(iter(groups.values()), {}) if isinstance(groups, dict) else {}
        weights: dict[str, Any] = (first.get("weights") or {}) if isinstance(first, dict) else {}
        bits = bits or weights.get("num_bits")
        group = group or weights.get("group_size")
        if weights.get("type") == "float" and (bits or 8) == 8:
            method = "fp8"
    return QuantizationConfig(
        method=method,
        bits=int(bits) if bits else None,
        group_size=int(group) if group else None,
        kv_cache_dtype="fp8" if kv else None,
    )


def spec_from_hf_config(cfg: dict[str, Any], *, name: str, source: str | None = None) -> ModelSpec:
    """A spec from the parsed JSON of a ``config.json``."""
    cfg = dict(cfg)
    model_type = _model_type(cfg)
    layers = int(_get(cfg, "num_layers"))
    hidden = int(_get(cfg, "hidden_size"))
    heads = int(_get(cfg, "num_heads"))
    kv_heads = int(cfg.get("num_key_value_heads") or cfg.get("num_kv_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    inter = _get(cfg, "intermediate_size", required=model_type != "gptj")
    intermediate = int(cfg.get("moe_intermediate_size") or inter or 4 * hidden)
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 0)
    window, sliding_layers = _sliding(cfg, model_type, layers)
    arch = " ".join(cfg.get("architectures") or [])
    encoder = model_type in _ENCODERS or (bool(arch) and "CausalLM" not in arch and "LMHead" not in arch)
    tied_default = model_type not in _UNTIED_BY_DEFAULT
    rope_dim = cfg.get("rotary_dim")
    if rope_dim is None and cfg.get("partial_rotary_factor"):
        rope_dim = int(head_dim * float(cfg["partial_rotary_factor"]))
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    for candidate in ("bfloat16", "float16", "float32"):
        if str(cfg.get("torch_dtype") or cfg.get("dtype")) == candidate:
            dtype = candidate
    bias: Literal["none", "qkv", "all"]
    if model_type in _ALL_BIAS:
        bias = "all"
    elif model_type in _QKV_BIAS or cfg.get("attention_bias"):
        bias = "qkv"
    else:
        bias = "none"
    return ModelSpec(
        name=name,
        hf_id=cfg.get("_name_or_path") or None,
        kind="encoder" if encoder else "decoder",
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=intermediate,
        vocab_size=int(_get(cfg, "vocab_size")),
        tie_embeddings=bool(cfg.get("tie_word_embeddings", tied_default)),
        mlp="plain" if model_type in _PLAIN_MLP else "gated",
        num_experts=experts if experts > 1 else 0,
        experts_per_token=int(cfg.get("num_experts_per_tok") or 0) if experts > 1 else 0,
        linear_bias=bias,
        norms_per_layer=_NORMS.get(model_type, 2) * (2 if bias == "all" else 1),
        sliding_window=window,
        sliding_layers=sliding_layers,
        max_position_embeddings=int(_get(cfg, "max_position_embeddings")),
        position_embeddings="learned" if model_type in _LEARNED_POSITIONS else "rope",
        rope_dim=int(rope_dim) if rope_dim else None,
        type_vocab_size=int(cfg.get("type_vocab_size") or 0),
        dtype=dtype,
        quantization=_quantization(cfg),
        source=source,
    )
