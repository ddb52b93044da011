"""Session-scoped fixtures that run the real vLLM CPU and llama.cpp servers (see tests/servers.py).

Each server starts once per session, the first time a test asks for it (vLLM ~30-45 s, llama.cpp
~2 s), and stops at the end of the session. If ``scripts/setup_servers.sh`` has not been run the
fixture errors with that instruction (never a skip). Tests that use them get ``real_server``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:  # --import-mode=importlib puts no test dir on sys.path
    sys.path.insert(0, _TESTS_DIR)

from servers import LlmServer, start_llamacpp, start_vllm  # noqa: E402

REAL_SERVER_FIXTURES = frozenset({"vllm_server", "llamacpp_server", "real_llm_server"})


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[LlmServer]:
    with start_vllm() as server:
        yield server


@pytest.fixture(scope="session")
def llamacpp_server() -> Iterator[LlmServer]:
    with start_llamacpp() as server:
        yield server


@pytest.fixture(params=["vllm", "llamacpp"])
def real_llm_server(request: pytest.FixtureRequest) -> LlmServer:
    """Each real server in turn (parametrised test ids ``[vllm]`` and ``[llamacpp]``)."""
    server: LlmServer = request.getfixturevalue(f"{request.param}_server")
    return server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_server)
