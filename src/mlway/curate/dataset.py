"""Labelled frames from recorded shifts: decode, map labels to the model's classes, resize, split by machine.

Shifts are directories written by ``mlway sim shift`` (video per camera, labels.csv, manifest.json),
read with the simulator's reader. Each frame's label is what its camera shows (see ``mlway.sim.labels``);
:data:`LABEL_MAP` maps it to one of :data:`CLASSES`. The simulator already labels frames with these
four classes, so the map is the identity for them; it also accepts the machine states (turning and a
stop show no event: idle), so a labels file written with states still trains.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import InputError
from mlway.sim import CLASSES as SIM_CLASSES
from mlway.sim import open_shift

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = ("idle", "harvesting", "unloading", "unloading_failure")
"""The classifier's classes, in output order."""

LABEL_MAP: dict[str, str] = {name: name for name in SIM_CLASSES} | {"turning": "idle", "stop": "idle"}
"""Simulator label (or machine state) -> model class."""

Size = tuple[int, int]
"""(width, height) in pixels."""

Progress = Callable[[int, int], None]


@dataclass
class FrameSet:
    """Frames of one or more shifts at one or more sizes, with what is known about each frame."""

    images: dict[Size, NDArray[np.uint8]]  # per size: (n, height, width, 3) RGB
    labels: NDArray[np.int64]  # index into CLASSES
    machines: list[str]
    cameras: list[str]
    times: NDArray[np.float64]
    streams: list[str]  # source_of(shift, machine, camera): one stream's frames are contiguous, in time order

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: NDArray[np.bool_]) -> FrameSet:
        keep = np.flatnonzero(mask)
        return FrameSet(
            {size: array[keep] for size, array in self.images.items()},
            self.labels[keep],
            [self.machines[i] for i in keep],
            [self.cameras[i] for i in keep],
            self.times[keep],
            [self.streams[i] for i in keep],
        )

    def counts(self) -> dict[str, int]:
        found = Counter(int(i) for i in self.labels)
        return {name: found.get(i, 0) for i, name in enumerate(CLASSES)}


def source_of(root: Path, machine: str, camera: str) -> str:
    """The name of one camera stream of one shift, as events and smoothers know it."""
    return f"{root}/{machine}/{camera}"


def _resize(frame: NDArray[np.uint8], size: Size) -> NDArray[np.uint8]:
    import cv2  # noqa: PLC0415 - comes with the sim extra

    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)


def _frame_count(root: Path, step: int, machines: set[str] | None) -> int:
    shift = open_shift(root)
    return sum(
        -(-len(shift.labels(m, c)) // step)
        for m in shift.machines
        if machines is None or m in machines
        for c in shift.manifest["cameras"]
    )


def load_frames(
    roots: Sequence[Path],
    sizes: Sequence[Size],
    *,
    step: int = 1,
    machines: set[str] | None = None,
    progress: Progress | None = None,
) -> FrameSet:
    """Decode every ``step``-th frame of the shifts (of ``machines`` only, if given), resized to each of ``sizes``."""
    if step < 1:
        raise InputError(f"invalid frame step {step}", hint="use 1 for every frame, 2 for every second one")
    total = sum(_frame_count(Path(r), step, machines) for r in roots)
    images = {size: np.empty((total, size[1], size[0], 3), np.uint8) for size in sizes}  # filled in place
    labels = np.empty(total, np.int64)
    meta: list[tuple[str, str, float, str]] = []
    for root in roots:
        shift = open_shift(root)
        chosen = [m for m in shift.machines if machines is None or m in machines]
        for frame in (f for m in chosen for f in shift.frames(machine=m, step=step)):
            done = len(meta)
            if done >= total:
                raise InputError(
                    f"{root} holds more frames than its labels.csv announces", hint="write the shift again"
                )
            if frame.label not in LABEL_MAP:
                raise InputError(f"{root}: frame {frame.frame_index} of {frame.machine}/{frame.camera} has label "
                                 f"{frame.label!r}, which maps to no class",
                                 hint=f"known labels: {', '.join(sorted(LABEL_MAP))}")  # fmt: skip
            for size, array in images.items():
                array[done] = _resize(frame.frame, size)
            labels[done] = CLASSES.index(LABEL_MAP[frame.label])
            meta.append(
                (frame.machine, frame.camera, frame.timestamp, source_of(Path(root), frame.machine, frame.camera))
            )
            if progress and len(meta) % 200 == 0:
                progress(len(meta), total)
    if progress:
        progress(len(meta), total)
    n = len(meta)
    return FrameSet(
        {size: array[:n] for size, array in images.items()},
        labels[:n],
        [m[0] for m in meta],
        [m[1] for m in meta],
        np.asarray([m[2] for m in meta], np.float64),
        [m[3] for m in meta],
    )


def shift_machines(roots: Sequence[Path]) -> list[str]:
    """Every machine of the shifts, in number order."""
    found: set[str] = set()
    for root in roots:
        found.update(open_shift(root).machines)
    return sorted(found)


def split_machines(
    machines: Sequence[str], validation: Sequence[str] | None, fraction: float
) -> tuple[list[str], list[str]]:
    """(training machines, validation machines): the named ones, or the last ``fraction`` of them (at least one)."""
    ordered = sorted(machines)
    if len(ordered) < 2:
        raise InputError(
            f"the shifts hold {len(ordered)} machine(s) ({', '.join(ordered) or 'none'}); training needs at least two",
            hint="validation uses held-out machines (unseen camera poses): simulate with --machines 2 or more",
        )
    if validation:
        unknown = sorted(set(validation) - set(ordered))
        if unknown:
            raise InputError(f"validation machine(s) {unknown} are not in the shifts", hint=f"choose from {ordered}")
        held = sorted(set(validation))
    else:
        count = min(len(ordered) - 1, max(1, round(fraction * len(ordered))))
        held = ordered[-count:]
    train = [m for m in ordered if m not in held]
    if not train:
        raise InputError("every machine is held out for validation", hint="leave at least one machine for training")
    return train, held


def check_classes(counts: dict[str, int], *, where: str, minimum: int, strict: bool) -> list[str]:
    """Raise (``strict``) or return warnings when a class has no frames or fewer than ``minimum``."""
    table = ", ".join(f"{name} {n}" for name, n in counts.items())
    missing = [name for name, n in counts.items() if n == 0]
    few = [name for name, n in counts.items() if 0 < n < minimum]
    problems = []
    if missing:
        problems.append(f"class(es) {', '.join(missing)} have no frames in the {where}")
    if few:
        problems.append(f"class(es) {', '.join(few)} have fewer than {minimum} frames in the {where}")
    if not problems:
        return []
    message = "; ".join(problems) + f" (frames per class: {table})"
    hint = (
        "simulate more or longer shifts (mlway sim shift --hours, --machines), raise --failure-rate for "
        "unloading failures, or lower --min-class-frames"
    )
    if strict and (missing or few):
        raise InputError(message, hint=hint)
    log.info("%s", message)
    return [message]
