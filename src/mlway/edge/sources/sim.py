"""The simulator's live stream as a camera: ``sim://combine-01/auger?hours=0.05&seed=7&fps=5&speed=1``.

The only edge module that imports ``mlway.sim`` (the import-linter contract names it): a field
demo and the tests can run the agent on a simulated shift without writing video files first.
Query keys are ShiftConfig fields (hours, seed, fps, size as WIDTHxHEIGHT, failure_rate, ...)
plus ``speed`` (1 = real time, 0 = flat out).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import ConfigError
from mlway.sim import ShiftConfig, live_frames, parse_size

_INTS = {"machines", "first_machine", "seed", "pose_seed", "width", "height", "min_failures", "crf"}


def parse_sim_url(url: str) -> tuple[ShiftConfig, str, str, float | None]:
    """``sim://combine-01/auger?hours=0.05`` -> (shift config, machine, camera, speed)."""
    parts = urlsplit(url)
    machine, camera = parts.netloc, parts.path.strip("/")
    if not machine or not camera:
        raise ConfigError(f"sim source {url!r} names no machine and camera",
                          hint="write sim://combine-01/auger?hours=0.05&seed=7&speed=1")  # fmt: skip
    values: dict[str, Any] = {}
    speed: float | None = 1.0
    for key, value in parse_qsl(parts.query, strict_parsing=False):
        name = key.replace("-", "_")
        try:
            if name == "speed":
                speed = float(value) or None
            elif name == "size":
                values["width"], values["height"] = parse_size(value)
            else:
                values[name] = int(value) if name in _INTS else value
        except ValueError as exc:
            raise ConfigError(f"sim source {url!r}: {key}={value!r} is not a number") from exc
    number = machine.rsplit("-", 1)[-1]
    if number.isdigit() and "first_machine" not in values and "machines" not in values:
        values["first_machine"], values["machines"] = int(number), 1
    return ShiftConfig.build(**values), machine, camera, speed


class SimSource:
    """One camera of a simulated shift, rendered live."""

    finite = True

    def __init__(self, url: str) -> None:
        self.config, self.machine, self.camera, self.speed = parse_sim_url(url)

    def read(self) -> Iterator[tuple[float | None, NDArray[np.uint8]]]:
        for frame in live_frames(self.config, speed=self.speed, machines=[self.machine], cameras=[self.camera]):
            yield frame.timestamp, frame.frame

    def close(self) -> None:
        return None
