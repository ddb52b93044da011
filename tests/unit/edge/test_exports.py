"""The public API of mlway.edge: its names, each importable."""

from __future__ import annotations

import mlway.edge


def test_public_names_are_pinned_and_resolve() -> None:
    assert mlway.edge.__all__ == [
        "AgentStatus", "Alerter", "AlertsConfig", "CameraConfig", "EdgeAgent", "EdgeConfig", "EventStage", "Model",
        "ModelConfig", "Outbox", "Scheduler", "SchedulerConfig", "UplinkConfig", "Uploader", "load_config",
        "load_model", "preflight", "read_status",
    ]  # fmt: skip
    for name in mlway.edge.__all__:
        assert getattr(mlway.edge, name) is not None
