"""The parameters of one simulated harvest shift, validated, with errors that name the CLI option."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from mlway.core.errors import ConfigError
from mlway.core.model import StrictModel

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")  # noqa: RUF001 - also the multiplication sign


class ShiftConfig(StrictModel):
    """Everything that decides a shift: the same config gives the same frames, sensors and events."""

    machines: int = Field(3, ge=1, le=64, description="Number of combines in the shift.")
    first_machine: int = Field(
        1,
        ge=1,
        le=9999,
        description="Number of the first combine: combine-04 has the same camera mounts in every shift.",
    )
    hours: float = Field(0.5, gt=0, le=24, description="Length of the shift in hours.")
    seed: int = Field(
        7, ge=0, le=2**32 - 1, description="Seed of the shift's content: states, weather, frames, sensors."
    )
    pose_seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the fleet's camera mounts; poses depend on it and the machine id only.",
    )
    fps: float = Field(5.0, gt=0, le=60, description="Camera frame rate, frames per second.")
    width: int = Field(320, ge=64, le=1920, description="Frame width in pixels (even).")
    height: int = Field(240, ge=48, le=1080, description="Frame height in pixels (even).")
    failure_rate: float = Field(0.3, ge=0, le=1, description="Probability that an unloading runs into a failure.")
    min_failures: int = Field(
        1, ge=0, le=1000, description="At least this many failures in the shift when it has that many unloadings."
    )
    on_the_go_rate: float = Field(0.4, ge=0, le=1, description="Share of unloadings done while harvesting.")
    distractor_rate: float = Field(
        3.0, ge=0, le=60, description="Another combine unloading alongside: appearances per machine per hour."
    )
    start_hour: float | None = Field(
        None,
        ge=0,
        lt=24,
        description="Local hour the shift starts (sets day, dusk or night); drawn from the seed if unset.",
    )
    date: str = Field("2024-08-20", pattern=r"^\d{4}-\d{2}-\d{2}$", description="Calendar date of the shift.")
    codec: Literal["h264", "mpeg4"] = Field("h264", description="Video codec of the written files.")
    crf: int = Field(26, ge=0, le=51, description="Video quality (h264 CRF; mpeg4 maps it to qscale).")

    @model_validator(mode="after")
    def _even_size(self) -> ShiftConfig:
        if self.width % 2 or self.height % 2:
            raise ValueError(f"size {self.width}x{self.height} must have even width and height (yuv420p video)")
        return self

    @property
    def duration_s(self) -> float:
        return self.hours * 3600.0

    @property
    def frame_count(self) -> int:
        """Frames per camera."""
        return max(1, int(self.duration_s * self.fps))

    @property
    def machine_ids(self) -> list[str]:
        return [machine_id(self.first_machine + i) for i in range(self.machines)]

    @classmethod
    def build(cls, **values: Any) -> ShiftConfig:
        """Validate ``values``, raising :class:`ConfigError` that names the option (``--fps``) and its bounds."""
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            if not first["loc"]:  # the size check spans two fields
                size = f"{values.get('width')}x{values.get('height')}"
                raise ConfigError(
                    f"invalid --size {size}: width and height must be even (yuv420p video)",
                    hint="give the frame size as WIDTHxHEIGHT with even numbers, e.g. 320x240",
                ) from exc
            field = str(first["loc"][0])
            option = "--size" if field in {"width", "height"} else "--" + field.replace("_", "-")
            raise ConfigError(f"invalid {option} {first.get('input')!r}: {first['msg']}", hint=_hint(field)) from exc


_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _hint(field: str) -> str:
    info = ShiftConfig.model_fields.get(field)
    if info is None:
        return "see `mlway sim shift --help`"
    bounds = [f"{sym} {getattr(m, attr)}" for m in info.metadata for attr, sym in _SYMBOLS.items() if hasattr(m, attr)]
    return f"{info.description}" + (f" Allowed: {', '.join(bounds)}." if bounds else "")


def machine_id(number: int) -> str:
    """The name of combine ``number``: ``combine-03``."""
    return f"combine-{number:02d}"


def parse_size(text: str) -> tuple[int, int]:
    """``"320x240"`` -> ``(320, 240)``."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"invalid --size {text!r}", hint="give the frame size as WIDTHxHEIGHT, e.g. 320x240")
    return int(match.group(1)), int(match.group(2))
