"""The settings of a field-to-cloud run: which shift to simulate, how the link behaves, where files go."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel

EVENT_LABELS = ("unloading", "unloading_failure")
"""The labels scored against the ground truth (the talk's events; harvesting is the background state)."""


class LinkPhase(StrictModel):
    """One stretch of the link's plan: up or down for so many seconds of the run."""

    up: bool
    seconds: float = Field(gt=0, le=3600)


class FieldRunConfig(StrictModel):
    """A short shift, a hub, one agent per combine behind an emulated 2G link that goes down and up."""

    out: Path = Field(default=Path("mlway-field"), description="Directory for the shift, hub.db and state.")
    machines: int = Field(default=1, ge=1, le=4, description="Combines (one edge agent each).")
    first_machine: int = Field(default=1, ge=1, le=999, description="Number of the first combine (its camera pose).")
    hours: float = Field(default=0.3, gt=0, le=4, description="Length of the simulated shift.")
    fps: float = Field(default=2.0, gt=0, le=10, description="Camera frame rate of the simulated videos.")
    seed: int = Field(default=301, description="Shift seed (the bundled model never saw seeds 301 and up).")
    failure_rate: float = Field(default=0.6, ge=0, le=1, description="Share of unloadings that fail.")
    link: Literal["2g", "perfect"] = Field(
        default="2g", description="Link profile: 2g (~40 kbit/s, 0.3-1 s latency, faults) or perfect."
    )
    link_plan: list[LinkPhase] = Field(
        default_factory=lambda: [
            LinkPhase(up=False, seconds=8),
            LinkPhase(up=True, seconds=6),
            LinkPhase(up=False, seconds=8),
        ],
        max_length=100,
        description="The link's ups and downs from the agents' start; after the last phase it stays up.",
    )
    drain_timeout_s: float = Field(
        default=180.0, gt=0, le=3600, description="Deadline for the backlog to reach the hub."
    )
    min_iou: float = Field(default=0.3, gt=0, le=1, description="Time IoU at which an event matches a true one.")
