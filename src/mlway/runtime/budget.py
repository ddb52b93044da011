"""The device budget the runtime places models into: memory and CPU cores."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from mlway.core.model import StrictModel
from mlway.core.units import format_bytes
from mlway.runtime.limits import available_cpus
from mlway.runtime.manifest import ByteSize


class Budget(StrictModel):
    """What the runtime may use on this device: ``Budget(memory="6GiB", cpus=2)``."""

    memory: ByteSize = Field(description="Total resident memory all model workers may reserve, e.g. '6GiB'.")
    cpus: int = Field(default=0, ge=0, le=4096, description="Cores to use; 0 means every core of this process.")
    cpu_ids: list[int] = Field(
        default_factory=list, max_length=4096, description="Exact core ids; default: the first `cpus` available."
    )

    @model_validator(mode="after")
    def _cores(self) -> Self:
        if not self.cpu_ids:
            available = available_cpus()
            count = self.cpus or len(available)
            ids = available[:count] if count <= len(available) else list(range(count))
            object.__setattr__(self, "cpu_ids", ids)
        if len(set(self.cpu_ids)) != len(self.cpu_ids) or any(i < 0 for i in self.cpu_ids):
            raise ValueError(f"cpu_ids {self.cpu_ids} must be distinct non-negative core ids")
        object.__setattr__(self, "cpus", len(self.cpu_ids))
        return self

    def describe(self) -> str:
        return f"{format_bytes(self.memory)}, {self.cpus} core(s) {self.cpu_ids}"
