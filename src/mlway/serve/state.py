"""What every route shares: settings, the model host, the served models, metrics."""

from __future__ import annotations

import difflib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Request

from mlway.core.errors import NotFoundError
from mlway.runtime import ModelHost
from mlway.serve.metrics import ServeMetrics
from mlway.serve.model import ServedModel
from mlway.serve.settings import ServeSettings


@dataclass
class ServerState:
    settings: ServeSettings
    host: ModelHost
    models: dict[str, ServedModel]
    metrics: ServeMetrics
    started_at: float = field(default_factory=time.time)

    def model(self, name: str, version: str | None = None) -> ServedModel:
        """The served model called ``name`` (at ``version``, if given); NotFoundError naming the choices."""
        model = self.models.get(name)
        if model is None:
            close = difflib.get_close_matches(name, list(self.models), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"models: {', '.join(sorted(self.models))}"
            raise NotFoundError(f"no model named {name[:100]!r}", hint=hint)
        if version is not None and version != model.bundle.manifest.version:
            raise NotFoundError(
                f"model {name!r} has no version {version[:64]!r}",
                hint=f"this server serves version {model.bundle.manifest.version}",
            )
        return model

    @asynccontextmanager
    async def track(self, model: str, endpoint: str) -> AsyncIterator[None]:
        """Count the request by model, endpoint and status, and time it."""
        started = time.perf_counter()
        status = 200
        try:
            yield
        except Exception as exc:
            status = int(getattr(exc, "http_status", 500))
            raise
        finally:
            self.metrics.observe_request(model, endpoint, status, time.perf_counter() - started)


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.mlway
    return state
