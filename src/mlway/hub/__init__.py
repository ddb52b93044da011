"""The hub: ingest of edge device records (idempotent, per-device tokens), events and fleet status.

    mlway hub start --data hub.db --port 8700
    mlway hub device add combine-07 --data hub.db      # prints the token once

Library: ``HubStore`` (the database; standard library only) and ``HubSettings`` here; the server
(the ``hub`` extra: fastapi, uvicorn) is ``mlway.hub.app.create_app`` and ``mlway.hub.server.serve``;
``mlway.hub.testing.start_hub`` runs a real hub process for tests.
"""

from __future__ import annotations

from mlway.hub.settings import HubSettings
from mlway.hub.store import DeviceInfo, HubStore, Ingested

__all__ = ["DeviceInfo", "HubSettings", "HubStore", "Ingested"]
