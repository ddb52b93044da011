"""Inference engines: how each turns GPU memory into a KV cache, batches, and is started.

Each engine is a class registered by name; generic code asks the engine, never tests its name.
"""

from __future__ import annotations

import difflib

from mlway.core.errors import NotFoundError
from mlway.plan.engines.base import Engine, max_len_search
from mlway.plan.engines.llamacpp import LlamaCppEngine
from mlway.plan.engines.sglang import SglangEngine
from mlway.plan.engines.trtllm import TrtllmEngine
from mlway.plan.engines.vllm import VllmEngine, VllmV0Engine

ENGINES: dict[str, Engine] = {
    e.name: e for e in (VllmEngine(), VllmV0Engine(), SglangEngine(), TrtllmEngine(), LlamaCppEngine())
}
ALIASES = {
    "vllm-v1": "vllm",
    "trtllm": "tensorrt-llm",
    "trt-llm": "tensorrt-llm",
    "llamacpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "ollama": "llama.cpp",
}


def get_engine(name: str) -> Engine:
    """An engine by name or alias; unknown names list the closest ones."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key in ENGINES:
        return ENGINES[key]
    close = difflib.get_close_matches(key, [*ENGINES, *ALIASES], n=3, cutoff=0.4)
    raise NotFoundError(
        f"unknown engine {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
        hint=f"one of: {', '.join(ENGINES)}",
    )


__all__ = ["ALIASES", "ENGINES", "Engine", "get_engine", "max_len_search"]
