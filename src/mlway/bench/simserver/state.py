"""The per-app state every route reads: config, engine, outcome planner, counters."""

from __future__ import annotations

import itertools

import orjson
from aiohttp import web

from mlway.bench.simserver.config import SimServerConfig
from mlway.bench.simserver.engine import SimEngine
from mlway.bench.simserver.metrics import SimCounters, SimMetrics
from mlway.bench.simserver.outcome import OutcomePlanner
from mlway.core.errors import InputError, NotFoundError


class SimState:
    """Everything one simulated server holds; one instance per aiohttp app."""

    def __init__(self, config: SimServerConfig) -> None:
        self.config = config
        self.engine = SimEngine(config)
        self.planner = OutcomePlanner(config)
        self.counters = SimCounters()
        self.metrics = SimMetrics(config, self.engine, self.counters)
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-sim{next(self._ids):x}"

    def check_model(self, name: str | None) -> None:
        """A request may omit the model; a named one must be the served one."""
        if name is not None and name != self.config.model:
            raise NotFoundError(f"the model {name!r} does not exist: this server serves {self.config.model!r}")


STATE = web.AppKey("mlway_sim_state", SimState)


async def read_json(request: web.Request) -> object:
    """The decoded JSON body, or an :class:`InputError` saying why it is not JSON."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the request body is not valid JSON: {exc}") from exc
