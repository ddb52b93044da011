"""Ground truth: events with their true start and end times, machine states, and the label of every frame.

Events are per camera, the way a per-frame classifier on that camera can see them: ``harvesting`` on
the header camera, ``unloading`` and ``unloading_failure`` on the auger camera. An unloading
interrupted by a failure is two unloading events around one failure event.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlway.sim.labels import CAMERAS, CLASSES, STATES
from mlway.sim.schedule import MachineSchedule
from mlway.sim.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    machine: str
    camera: str
    start_s: float
    end_s: float
    detail: str = ""  # failure mode; "on_the_go" or "standing" for unloading; "" otherwise


def _clip(start: float, end: float, duration: float) -> tuple[float, float] | None:
    start, end = max(0.0, start), min(duration, end)
    return (round(start, 3), round(end, 3)) if end > start else None


def events_of(s: MachineSchedule) -> list[Event]:
    found: list[tuple[str, str, float, float, str]] = []
    run: list[float] | None = None
    for seg in s.drive:
        if seg.kind == "harvesting" and run is not None and abs(run[1] - seg.start) < 1e-6:
            run[1] = seg.end
        elif seg.kind == "harvesting":
            if run is not None:
                found.append(("harvesting", "header", run[0], run[1], ""))
            run = [seg.start, seg.end]
    if run is not None:
        found.append(("harvesting", "header", run[0], run[1], ""))
    for u in s.unloadings:
        how = "on_the_go" if u.on_the_go else "standing"
        cursor = u.start
        for f in u.failures:
            found.append(("unloading", "auger", cursor, f.start, how))
            found.append(("unloading_failure", "auger", f.start, f.end, f.mode))
            cursor = f.end
        found.append(("unloading", "auger", cursor, u.end, how))
    events = []
    for kind, camera, start, end, detail in found:
        span = _clip(start, end, s.duration)
        if span is not None:
            events.append(Event(kind, s.machine, camera, span[0], span[1], detail))
    return sorted(events, key=lambda e: (e.start_s, e.camera))


def states_of(tl: Timeline, machine: str) -> list[dict[str, Any]]:
    """Runs of the machine's state, at frame resolution."""
    out: list[dict[str, Any]] = []
    for i, code in enumerate(tl.state.tolist()):
        if out and out[-1]["state"] == STATES[code]:
            continue
        if out:
            out[-1]["end_s"] = round(float(tl.times[i]), 3)
        out.append({"machine": machine, "state": STATES[code], "start_s": round(float(tl.times[i]), 3)})
    if out:
        step = float(tl.times[1] - tl.times[0]) if len(tl) > 1 else 0.0
        out[-1]["end_s"] = round(float(tl.times[-1]) + step, 3)
    return out


def write_events(path: Path, schedules: list[MachineSchedule], timelines: dict[str, Timeline]) -> int:
    events = [asdict(e) for s in schedules for e in events_of(s)]
    doc = {
        "classes": list(CLASSES),
        "time": "seconds since the shift's start on the camera clock",
        "events": events,
        "machine_states": [row for s in schedules for row in states_of(timelines[s.machine], s.machine)],
        "distractors": [
            {"machine": s.machine, "camera": "auger", "start_s": span[0], "end_s": span[1]}
            for s in schedules
            for d in s.distractors
            if (span := _clip(d.start, d.end, s.duration)) is not None
        ],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return len(events)


LABEL_COLUMNS = ("machine", "camera", "frame", "time_s", "label", "state", "distractor")


def write_labels(path: Path, timelines: dict[str, Timeline]) -> int:
    """One row per frame per camera: the class the frame shows, the machine's state, another combine in view."""
    rows = 0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LABEL_COLUMNS)
        for machine, tl in timelines.items():
            other = (tl.distractor_x == tl.distractor_x) & (tl.distractor_x < 1.05)  # NaN != NaN: no other combine
            for camera in CAMERAS:
                labels = tl.header_label if camera == "header" else tl.auger_label
                for i in range(len(tl)):
                    writer.writerow((machine, camera, i, f"{tl.times[i]:.3f}", CLASSES[labels[i]], STATES[tl.state[i]],
                                     int(camera == "auger" and other[i])))  # fmt: skip
                rows += len(tl)
    return rows
