"""mlway's sim server with every streamed write stamped by the server itself (for timing.py).

Runs the unchanged sim (``run_sim_server``) in this process, with one measuring hook: each streamed
response is written through a ``StreamResponse`` subclass that notes ``time.perf_counter()`` right
after each write was handed to the socket, beside the chunk's scheduled time (``Sequence.due``) and
the request's arrival in the engine (``Sequence.arrived_at``). One JSON line per response goes to
the trace file when the response ends:

    {"entered": s, "arrived": s, "due": [s, ...], "sent": [s, ...], "emitted": [n, ...]}

(server ``perf_counter`` seconds; ``entered``: the request handler started, i.e. aiohttp had parsed
the request; ``emitted``: tokens generated up to and including each write, so a
write that carries two late chunks at once shows up as a step of two). Only for benchmarks:
the hook costs a few microseconds per write.

    python benchmarks/bench/stamped_sim.py TRACE.jsonl '{"ttft": 0.05, "itl": 0.01}'
"""

from __future__ import annotations

import contextvars
import sys
import time
import types
from typing import IO, Any

import orjson
from aiohttp import web

from mlway.bench.simserver import generate
from mlway.bench.simserver.config import validate_config
from mlway.bench.simserver.engine import Sequence
from mlway.bench.simserver.server import READY_PREFIX, run_sim_server

_CURRENT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("trace", default=None)
_ENTRY: contextvars.ContextVar[float] = contextvars.ContextVar("entry", default=float("nan"))
_OUT: list[IO[bytes]] = []


class _StampedResponse(web.StreamResponse):
    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await super().write(data)
        sent = time.perf_counter()
        trace = _CURRENT.get()
        if trace is not None:
            trace["sent"].append(sent)
            trace["due"].append(trace["source"].due)
            trace["emitted"].append(trace["source"].emitted)


_original_generate = generate._generate
_original_stream = generate._stream


async def _stamped_generate(request: web.Request, *, chat: bool) -> web.StreamResponse:
    _ENTRY.set(time.perf_counter())
    return await _original_generate(request, chat=chat)


async def _stamped_stream(job: Any, source: Any, encoder: Any) -> web.StreamResponse:
    trace: dict[str, Any] = {"source": source, "sent": [], "due": [], "emitted": []}
    _CURRENT.set(trace)
    try:
        return await _original_stream(job, source, encoder)
    finally:
        _CURRENT.set(None)
        if _OUT and isinstance(source, Sequence):
            line = {
                "entered": _ENTRY.get(),
                "arrived": source.arrived_at,
                "due": trace["due"],
                "sent": trace["sent"],
                "emitted": trace["emitted"],
            }
            _OUT[0].write(orjson.dumps(line) + b"\n")


def main() -> None:
    trace_path, config_json = sys.argv[1], sys.argv[2]
    generate.web = types.SimpleNamespace(**{**vars(web), "StreamResponse": _StampedResponse})  # type: ignore[attr-defined,assignment]
    generate._stream = _stamped_stream
    generate._generate = _stamped_generate
    config = validate_config(orjson.loads(config_json))
    with open(trace_path, "wb") as out:  # noqa: PTH123
        _OUT.append(out)
        run_sim_server(config, "127.0.0.1", 0, on_ready=lambda url: print(READY_PREFIX + url, flush=True))


if __name__ == "__main__":
    main()
