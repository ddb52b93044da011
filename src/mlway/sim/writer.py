"""``write_shift``: a whole shift to disk as a user and the training and edge code expect it.

    OUT/manifest.json                  seed, config, poses, sensor clocks, files, counts, mlway version
    OUT/events.json                    events with true times, machine states, distractors
    OUT/labels.csv                     machine, camera, frame, time_s, label, state, distractor
    OUT/sensors/<machine>.csv          time_s (sensor clock), sensor, value
    OUT/video/<machine>_<camera>.mp4   one file per camera, frame i at time i / fps

The manifest is written last: a directory without one is an interrupted shift.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mlway import __version__
from mlway.core.errors import InputError
from mlway.sim.config import ShiftConfig
from mlway.sim.labels import CAMERAS, CLASSES
from mlway.sim.sensors import SENSORS, sensor_rows, write_sensors
from mlway.sim.shift import Shift
from mlway.sim.truth import write_events, write_labels
from mlway.sim.video import VideoWriter, encoder_for

FORMAT = "mlway.sim.shift/1"
_SENSOR_NOISE = 6

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ShiftOutput:
    """What ``write_shift`` wrote, with the time each phase took."""

    out: Path
    manifest: dict[str, Any]
    render_s: float
    encode_s: float
    total_s: float


def prepare_out(out: Path, *, overwrite: bool) -> None:
    """Make ``out`` an empty writable directory, or say which option fixes it."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file", hint="give a directory path for the shift")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty", hint="choose a new directory, or pass --overwrite to replace it")
    try:
        (out / "video").mkdir(parents=True, exist_ok=True)
        (out / "sensors").mkdir(exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"cannot write to --out {out}: {exc.strerror or exc}", hint="choose a writable directory"
        ) from exc
    stale = [out / "manifest.json", out / "events.json", out / "labels.csv"]
    stale += [*(out / "video").glob("*.mp4"), *(out / "sensors").glob("*.csv")]
    for old in stale:  # an earlier shift's files, also of combines this one does not have
        old.unlink(missing_ok=True)


def write_shift(
    config: ShiftConfig, out: Path, *, overwrite: bool = False, progress: Progress | None = None
) -> ShiftOutput:
    """Simulate the shift ``config`` describes and write videos, sensors, events, labels and the manifest."""
    encoder = encoder_for(config.codec)
    prepare_out(out, overwrite=overwrite)
    started = time.perf_counter()
    shift = Shift(config)
    n, total = config.frame_count, config.frame_count * len(shift.streams)
    render_s = encode_s = 0.0
    done = 0
    machines: list[dict[str, Any]] = []
    for mid, m in shift.machines.items():
        paths = {cam: Path("video") / f"{mid}_{cam}.mp4" for cam in CAMERAS}
        writers = {cam: VideoWriter(out / paths[cam], fps=config.fps, width=config.width, height=config.height,
                                    codec=config.codec, crf=config.crf) for cam in CAMERAS}  # fmt: skip
        digests = {cam: hashlib.sha256() for cam in CAMERAS}
        for i in range(n):
            scene = shift.scene(mid, i)
            for cam in CAMERAS:
                t0 = time.perf_counter()
                frame = shift.frame(mid, cam, i, scene).frame
                t1 = time.perf_counter()
                writers[cam].write(frame)
                digests[cam].update(frame.tobytes())
                render_s += t1 - t0
                encode_s += time.perf_counter() - t1
            done += len(CAMERAS)
            if progress is not None and (i % 25 == 0 or i == n - 1):
                progress(done, total)
        t0 = time.perf_counter()
        for w in writers.values():
            w.close()
        encode_s += time.perf_counter() - t0
        sensors = Path("sensors") / f"{mid}.csv"
        rows = sensor_rows(shift.schedules[mid], shift.timelines[mid], shift.clocks[mid],
                           np.random.default_rng([config.seed, m.number, _SENSOR_NOISE]))  # fmt: skip
        write_sensors(out / sensors, rows)
        machines.append({
            "id": mid, "number": m.number, "paint": m.paint,
            "poses": {cam: asdict(p) for cam, p in m.poses.items()},
            "videos": {cam: str(p) for cam, p in paths.items()},
            "raw_sha256": {cam: d.hexdigest() for cam, d in digests.items()},
            "sensors": str(sensors),
            "sensor_clock": asdict(shift.clocks[mid]),
            "unloadings": len(shift.schedules[mid].unloadings),
            "failures": len(shift.schedules[mid].failures),
        })  # fmt: skip
    events = write_events(out / "events.json", list(shift.schedules.values()), shift.timelines)
    label_rows = write_labels(out / "labels.csv", shift.timelines)
    manifest = _manifest(shift, encoder, machines, events, label_rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return ShiftOutput(out, manifest, render_s, encode_s, time.perf_counter() - started)


def _manifest(shift: Shift, encoder: str, machines: list[dict[str, Any]], events: int, rows: int) -> dict[str, Any]:
    c = shift.config
    start = datetime.fromisoformat(c.date) + timedelta(hours=shift.start_hour)
    by_label: Counter[str] = Counter()
    for tl in shift.timelines.values():
        by_label.update(CLASSES[k] for k in tl.header_label.tolist())
        by_label.update(CLASSES[k] for k in tl.auger_label.tolist())
    return {
        "format": FORMAT,
        "mlway_version": __version__,
        "created_by": "mlway sim shift",
        "seed": c.seed,
        "config": c.model_dump(),
        "start_time": start.isoformat(timespec="seconds"),
        "start_hour": round(shift.start_hour, 4),
        "duration_s": c.duration_s,
        "fps": c.fps,
        "frames_per_camera": c.frame_count,
        "size": [c.width, c.height],
        "pixel_format": "rgb24 frames encoded as yuv420p",
        "video": {"codec": c.codec, "encoder": encoder, "crf": c.crf, "container": "mp4"},
        "classes": list(CLASSES),
        "cameras": list(CAMERAS),
        "sensors": {name: {"rate_hz": s.rate_hz, "unit": s.unit} for name, s in SENSORS.items()},
        "machines": machines,
        "files": {"events": "events.json", "labels": "labels.csv"},
        "counts": {"events": events, "label_rows": rows, "frames_by_label": dict(sorted(by_label.items()))},
    }
