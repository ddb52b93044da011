"""A simulated OpenAI-compatible LLM server: try mlway bench without a GPU, test clients against
known delays, and measure a load client's capacity (all delays zero).

    from mlway.bench.simserver import SimServerConfig, spawn_sim_server

    with spawn_sim_server(SimServerConfig(ttft="50ms", itl="10ms")) as base_url:
        ...  # POST f"{base_url}/chat/completions"
"""

from mlway.bench.simserver.app import build_app
from mlway.bench.simserver.config import FAILURE_KINDS, FailureKind, SimServerConfig, validate_config
from mlway.bench.simserver.server import run_sim_server, serve_sim, spawn_sim_server
from mlway.bench.simserver.words import CHAT_TOKENS_PER_MESSAGE

__all__ = [
    "CHAT_TOKENS_PER_MESSAGE",
    "FAILURE_KINDS",
    "FailureKind",
    "SimServerConfig",
    "build_app",
    "run_sim_server",
    "serve_sim",
    "spawn_sim_server",
    "validate_config",
]
