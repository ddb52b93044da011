"""What every route of one hub shares: its settings, store and metrics (``app.state.hub``)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from mlway.hub.metrics import HubMetrics
from mlway.hub.settings import HubSettings
from mlway.hub.store import HubStore


@dataclass(frozen=True, slots=True)
class HubState:
    settings: HubSettings
    store: HubStore
    metrics: HubMetrics

    @staticmethod
    def of(request: Request) -> HubState:
        state: HubState = request.app.state.hub
        return state
