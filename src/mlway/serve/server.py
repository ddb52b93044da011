"""The composition root of ``mlway serve``: start the model host, then the HTTP server; stop in reverse.

with Server(load_bundles("models/"), Budget(memory="6GiB", cpus=2), ServeSettings(port=8080)) as server:
    server.start()          # admits and loads every model (which variant, why) -> HostStatus
    server.run()            # uvicorn until SIGINT/SIGTERM
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self

from fastapi import FastAPI

from mlway.core.errors import MlwayError
from mlway.runtime import Budget, Bundle, HostSettings, HostStatus, ModelHost
from mlway.serve.app import create_app
from mlway.serve.metrics import ServeMetrics
from mlway.serve.model import ServedModel, limits_for
from mlway.serve.settings import ServeSettings, read_model_settings
from mlway.serve.state import ServerState

log = logging.getLogger(__name__)


class Server:
    """Many models behind one HTTP endpoint, each in its runtime worker under its quota."""

    def __init__(
        self,
        bundles: Sequence[Bundle],
        budget: Budget,
        settings: ServeSettings | None = None,
        host_settings: HostSettings | None = None,
    ) -> None:
        self.bundles = list(bundles)
        self.budget = budget
        self.settings = settings or ServeSettings()
        self.host_settings = host_settings or HostSettings(request_timeout_s=self.settings.request_timeout_s)
        self.host: ModelHost | None = None
        self.models: dict[str, ServedModel] = {}
        self._pool: ThreadPoolExecutor | None = None
        self.app: FastAPI | None = None

    def start(self) -> HostStatus:
        """Read each model's serving settings, load the models, and build the app."""
        own = {b.name: read_model_settings(b.directory) for b in self.bundles}  # config errors before any load
        self._pool = ThreadPoolExecutor(self.settings.preprocess_threads, thread_name_prefix="mlway-preprocess")
        self.host = ModelHost(self.host_settings)
        status = self.host.start(self.bundles, self.budget)
        metrics = ServeMetrics(self.host, lambda: self.models)
        for bundle in self.bundles:
            limits = limits_for(bundle, self.settings, own[bundle.name])
            self.models[bundle.name] = ServedModel(
                bundle, self.host, limits, pool=self._pool, observe=metrics.observe_batch
            )
        self.app = create_app(ServerState(self.settings, self.host, self.models, metrics))
        return status

    def run(self) -> None:
        """Serve HTTP until interrupted (uvicorn handles SIGINT and SIGTERM gracefully)."""
        import uvicorn  # noqa: PLC0415 - the server's own dependency, imported where it starts

        if self.app is None:
            raise MlwayError("call start() before run()")
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            loop="auto",  # uvloop and httptools where installed (the serve extra)
            http="auto",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        uvicorn.Server(config).run()

    def stop(self) -> None:
        """Stop the workers, then the preprocessing threads."""
        if self.host is not None:
            self.host.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
