"""A contact sheet: a few frames of every class from each camera, captioned, as one PNG a human can check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import InputError
from mlway.sim.labels import CLASSES, STATES
from mlway.sim.reader import RecordedShift
from mlway.sim.shift import Shift

ROWS: tuple[tuple[str, str], ...] = (
    ("header", "idle"),
    ("header", "harvesting"),
    ("auger", "idle"),
    ("auger", "unloading"),
    ("auger", "unloading_failure"),
    ("auger", "distractor"),
)
_CAPTION = 14


def _candidates(shift: Shift, camera: str, what: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for mid, tl in shift.timelines.items():
        if what == "distractor":
            idx = np.flatnonzero((tl.distractor_x < 1.0) & (tl.auger_label != CLASSES.index("unloading")))
        else:
            labels = tl.header_label if camera == "header" else tl.auger_label
            idx = np.flatnonzero(labels == CLASSES.index(what))
        found += [(mid, int(i)) for i in idx]
    return found


def pick(shift: Shift, per_row: int) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """Frames spread evenly over each row's candidates: (camera, what, [(machine, index)])."""
    rows = []
    for camera, what in ROWS:
        cands = _candidates(shift, camera, what)
        if cands:
            take = np.unique(np.linspace(0, len(cands) - 1, per_row).round().astype(int))
            rows.append((camera, what, [cands[k] for k in take]))
    return rows


def _tile(frame: NDArray[np.uint8], text: str) -> NDArray[np.uint8]:
    strip = np.full((_CAPTION, frame.shape[1], 3), 24, np.uint8)
    cv2.putText(strip, text, (3, _CAPTION - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([frame, strip])


def contact_sheet(shift: Shift, *, per_row: int = 6, recorded: RecordedShift | None = None) -> NDArray[np.uint8]:
    """The sheet as an RGB array; frames are rendered, or decoded from ``recorded`` when given."""
    if per_row < 1:
        raise InputError(f"invalid --per-row {per_row}", hint="use 1 or more frames per row")
    rows = pick(shift, per_row)
    wanted = {(m, cam, i) for cam, _, picks in rows for m, i in picks}
    decoded: dict[tuple[str, str, int], NDArray[np.uint8]] = {}
    if recorded is not None:
        for m, cam in {(m, cam) for m, cam, _ in wanted}:
            need = {i for mm, cc, i in wanted if (mm, cc) == (m, cam)}
            for f in recorded.frames(m, cam):
                if f.frame_index in need:
                    decoded[(m, cam, f.frame_index)] = f.frame
    w, h = shift.config.width, shift.config.height
    lines = []
    for camera, what, picks in rows:
        tiles = []
        for m, i in picks:
            frame = decoded.get((m, camera, i))
            if frame is None:
                frame = shift.frame(m, camera, i).frame  # type: ignore[arg-type]
            state = STATES[int(shift.timelines[m].state[i])]
            hour = float(shift.weather[m].hour[i])
            tiles.append(_tile(frame, f"{m[-2:]} {camera} {what} | {state} {int(hour):02d}:{int(hour % 1 * 60):02d}"))
        tiles += [np.zeros((h + _CAPTION, w, 3), np.uint8)] * (per_row - len(tiles))
        lines.append(np.hstack(tiles))
    return np.vstack(lines)


def write_contact_sheet(shift: Shift, path: Path, *, per_row: int = 6, recorded: RecordedShift | None = None) -> Path:
    sheet = contact_sheet(shift, per_row=per_row, recorded=recorded)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise InputError(f"cannot write the contact sheet to {path}", hint="give a writable path ending in .png")
    return path
