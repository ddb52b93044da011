"""What the host reports: per model, which variant serves, why, and how it is doing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.runtime.tensors import TensorSpec

ModelState = Literal["loading", "ready", "recovering", "failed", "evicted", "not_loaded", "stopped"]


class ModelEvent(StrictModel):
    """One thing that happened to a model: loaded, fell back, restarted, swapped, evicted."""

    at: datetime = Field(description="When (UTC).")
    message: str = Field(description="What happened and why.")


class ModelStatus(StrictModel):
    """One model as the host runs it."""

    name: str = Field(description="Model name.")
    version: str = Field(description="Version of the bundle being served.")
    task: str = Field(description="classify, embed, detect or tensors.")
    state: ModelState = Field(description="ready serves; recovering queues requests while a worker is replaced.")
    variant: str | None = Field(description="The variant serving, if any.")
    backend: str | None = Field(description="Its backend kind.")
    reason: str = Field(description="Why this variant serves (or why none does).")
    priority: int = Field(description="Admission priority.")
    pinned: bool = Field(description="Never evicted.")
    pid: int | None = Field(description="Worker process id.")
    cpu_ids: list[int] = Field(description="Cores the worker is pinned to.")
    memory_limit: int = Field(description="The quota the watchdog enforces on the worker's RSS, bytes.")
    memory_reserved: int = Field(description="Bytes of the budget reserved for the worker.")
    rss_bytes: int = Field(description="Worker RSS at the last watchdog reading.")
    peak_rss_bytes: int = Field(description="Highest RSS seen for the current worker.")
    in_flight: int = Field(description="Requests sent to the worker or queued for it, unanswered.")
    served: int = Field(description="Requests answered since the host started.")
    failed: int = Field(description="Requests that ended in an error since the host started.")
    restarts: int = Field(description="Worker restarts after crashes since the host started.")
    last_used: datetime | None = Field(description="Last request (UTC); eviction picks the least recent.")
    refused: dict[str, str] = Field(description="Variants set aside and why (bad sha256, quota breach, ...).")
    inputs: list[TensorSpec] = Field(description="Inputs as the serving variant expects them.")
    outputs: list[TensorSpec] = Field(description="Outputs of the model.")
    labels: list[str] | None = Field(description="Class names, if the model has them.")
    events: list[ModelEvent] = Field(description="Recent events, oldest first.")


class HostStatus(StrictModel):
    """The whole host: its budget, what is free, and every model."""

    budget_memory: int = Field(description="Memory budget, bytes.")
    budget_cpu_ids: list[int] = Field(description="Cores in the budget.")
    free_memory: int = Field(description="Budget memory not reserved by any worker.")
    free_cpu_ids: list[int] = Field(description="Cores not reserved by any worker.")
    models: list[ModelStatus] = Field(description="Every model the host knows, in placement order.")

    def model(self, name: str) -> ModelStatus:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)
