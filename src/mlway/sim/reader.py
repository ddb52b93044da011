"""Reading a written shift back: its manifest, events, sensors, and video frames aligned with their labels."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from mlway.core.errors import InputError, MlwayError, NotFoundError
from mlway.sim.labels import CAMERAS
from mlway.sim.shift import SimFrame
from mlway.sim.video import read_frames
from mlway.sim.writer import FORMAT


class RecordedShift:
    """A shift directory written by ``write_shift`` (``mlway sim shift``)."""

    def __init__(self, root: Path) -> None:
        path = root / "manifest.json"
        if not path.is_file():
            raise InputError(f"{root} holds no simulated shift (no manifest.json)",
                             hint="give the --out directory of a finished `mlway sim shift`")  # fmt: skip
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        if manifest.get("format") != FORMAT:
            raise InputError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}")
        self.root = root
        self.manifest: dict[str, Any] = manifest

    @property
    def machines(self) -> list[str]:
        return [m["id"] for m in self.manifest["machines"]]

    def _machine(self, machine: str) -> dict[str, Any]:
        for m in self.manifest["machines"]:
            if m["id"] == machine:
                return dict(m)
        raise NotFoundError(f"no machine {machine!r} in {self.root}", hint=f"choose from {', '.join(self.machines)}")

    @cached_property
    def _labels(self) -> dict[tuple[str, str], list[dict[str, str]]]:
        out: dict[tuple[str, str], list[dict[str, str]]] = {}
        with (self.root / self.manifest["files"]["labels"]).open(newline="") as fh:
            for row in csv.DictReader(fh):
                out.setdefault((row["machine"], row["camera"]), []).append(row)
        return out

    def labels(self, machine: str, camera: str) -> list[dict[str, str]]:
        """The rows of labels.csv for one camera, in frame order."""
        self._machine(machine)
        return self._labels.get((machine, camera), [])

    def events(self) -> dict[str, Any]:
        """events.json: ``events``, ``machine_states``, ``distractors``."""
        doc: dict[str, Any] = json.loads((self.root / self.manifest["files"]["events"]).read_text())
        return doc

    def sensors(self, machine: str) -> list[tuple[float, str, float]]:
        """(sensor-clock time, sensor, value) rows of one combine."""
        with (self.root / self._machine(machine)["sensors"]).open(newline="") as fh:
            return [(float(r["time_s"]), r["sensor"], float(r["value"])) for r in csv.DictReader(fh)]

    def video_path(self, machine: str, camera: str) -> Path:
        return self.root / str(self._machine(machine)["videos"][camera])

    def frames(self, machine: str | None = None, camera: str | None = None, *, step: int = 1) -> Iterator[SimFrame]:
        """Decoded frames with their labels, stream by stream; every ``step``-th frame."""
        if step < 1:
            raise InputError(f"invalid step {step}", hint="use 1 for every frame, 5 for every fifth")
        for m in [machine] if machine else self.machines:
            for cam in [camera] if camera else list(CAMERAS):
                rows = self.labels(m, cam)
                count = 0
                for i, pixels in enumerate(read_frames(self.video_path(m, cam))):
                    if i >= len(rows):
                        raise MlwayError(f"{self.video_path(m, cam)} has more frames than labels.csv ({len(rows)})")
                    count += 1
                    if i % step == 0:
                        row = rows[i]
                        yield SimFrame(m, cam, float(row["time_s"]), pixels, row["label"], i)
                if count != len(rows):
                    raise MlwayError(
                        f"{self.video_path(m, cam)} decoded {count} frames but labels.csv has {len(rows)}",
                        hint="the shift was interrupted or the file is damaged; write it again",
                    )


def open_shift(root: Path | str) -> RecordedShift:
    """Open a shift directory written by ``mlway sim shift``."""
    return RecordedShift(Path(root))
