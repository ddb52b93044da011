from __future__ import annotations

import mlway.hub


def test_the_public_api_is_pinned() -> None:
    assert sorted(mlway.hub.__all__) == ["DeviceInfo", "HubSettings", "HubStore", "Ingested"]
