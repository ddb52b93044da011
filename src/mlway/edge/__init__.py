"""``mlway.edge``: the on-device agent. Cameras -> model -> events -> local alerts, a crash-safe outbox, the uplink.

    from mlway.edge import EdgeAgent, load_config
    agent = EdgeAgent(load_config("edge.yaml")).start()   # every config problem is refused before anything starts
    agent.run()                                           # until stopped, or every file camera ended
    agent.stop()                                          # open events ended, summary written, uplink stopped

Parts, in the order the agent starts them: ``config`` (the typed edge.yaml) and ``check`` (preflight),
``inference`` (the bundle's best variant that fits, in-process or in a runtime worker, with its
preprocessing), ``outbox`` (SQLite, WAL, synchronous=FULL), ``alerts`` (command, webhook, log line),
``events`` (per-camera smoothing into events with stable ids), ``scheduler`` (alternate, round-robin or
per-camera under a compute budget, drop-oldest, counted), ``sources`` (files, rtsp/http/usb via PyAV,
``sim://``; reconnect, restart on stall), ``uploader`` (batches to the hub) and ``status`` (status.json).

Names load lazily, so ``mlway.edge.outbox`` alone does not pull in PyAV or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlway.edge.agent import EdgeAgent
    from mlway.edge.alerts import Alerter
    from mlway.edge.check import preflight
    from mlway.edge.config import AlertsConfig, CameraConfig, EdgeConfig, ModelConfig, SchedulerConfig, load_config
    from mlway.edge.events import EventStage
    from mlway.edge.inference import Model, load_model
    from mlway.edge.outbox import Outbox
    from mlway.edge.scheduler import Scheduler
    from mlway.edge.status import AgentStatus, read_status
    from mlway.edge.uploader import UplinkConfig, Uploader

_WHERE = {
    "EdgeAgent": "agent", "Alerter": "alerts", "preflight": "check", "AlertsConfig": "config",
    "CameraConfig": "config", "EdgeConfig": "config", "ModelConfig": "config", "SchedulerConfig": "config",
    "load_config": "config", "EventStage": "events", "Model": "inference", "load_model": "inference",
    "Outbox": "outbox", "Scheduler": "scheduler", "AgentStatus": "status", "read_status": "status",
    "Uploader": "uploader", "UplinkConfig": "uploader",
}  # fmt: skip

__all__ = [
    "AgentStatus",
    "Alerter",
    "AlertsConfig",
    "CameraConfig",
    "EdgeAgent",
    "EdgeConfig",
    "EventStage",
    "Model",
    "ModelConfig",
    "Outbox",
    "Scheduler",
    "SchedulerConfig",
    "UplinkConfig",
    "Uploader",
    "load_config",
    "load_model",
    "preflight",
    "read_status",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mlway.edge' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlway.edge.{module}"), name)
