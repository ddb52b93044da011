"""`mlway edge run` as a user runs it: over a simulated shift's video files, and stopped by SIGTERM mid-event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from mlway.assets import bundled_models
from mlway.core.wire import EventRecord, SummaryRecord
from mlway.edge.outbox import Outbox
from mlway.edge.status import read_status
from mlway.edge.testing import write_colour_video

from .conftest import mlway


def records_in(state: Path, device: str) -> list[EventRecord | SummaryRecord]:
    outbox = Outbox.open(state / "outbox.db", device, max_bytes=1024**3)
    try:
        return outbox.pending(100_000)
    finally:
        outbox.close()


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_simulated_shift_runs_through_the_cli(shift: Path, colour: Path, tmp_path: Path) -> None:
    manifest = json.loads((shift / "manifest.json").read_text())
    videos = manifest["machines"][0]["videos"]
    model = "harvest-cam" if "harvest-cam" in bundled_models() else str(colour / "colour")
    config = write_config(tmp_path / "edge.yaml", {
        "device_id": "combine-01", "state_dir": "state", "model": {"name": model},
        "cameras": [{"name": cam, "source": str(shift / videos[cam]), "pace": "fast"} for cam in ("header", "auger")],
        "smoothing": {"window_s": 3, "min_duration_s": 3, "min_gap_s": 3}, "summary_every_s": 5,
    })  # fmt: skip
    run = mlway("edge", "run", "--config", str(config))
    assert run.returncode == 0, run.stderr
    assert "stopped:" in run.stderr

    shown = mlway("edge", "status", "--config", str(config), "--json")
    status = json.loads(shown.stdout)
    assert status["state"] == "stopped"
    frames = sum(1 for line in (shift / "labels.csv").read_text().splitlines()[1:] if ",auger," in line)
    for cam in ("header", "auger"):
        c = status["cameras"][cam]
        assert (c["frames_in"], c["inferred"], c["dropped"], c["restarts"]) == (frames, frames, 0, 0)

    records = records_in(tmp_path / "state", "combine-01")
    summaries = [r for r in records if isinstance(r, SummaryRecord)]
    for cam in ("header", "auger"):  # every frame was inferred once and counted in the periodic summaries
        assert sum(r.cameras[cam].frames_inferred for r in summaries) == frames
        assert sum(sum(r.cameras[cam].top_labels.values()) for r in summaries) == frames
    events = [r for r in records if isinstance(r, EventRecord)]
    kinds: dict[str, list[str]] = {}
    for e in events:
        kinds.setdefault(e.event_id, []).append(e.kind)
    assert all(k[0] == "start" and k[-1] == "end" and k.count("end") == 1 for k in kinds.values())
    if model == "harvest-cam":  # the trained model finds the shift's unloading failure (auger, 220-252 s)
        urgent = [e for e in events if e.label == "unloading_failure" and e.kind == "start"]
        assert [e.source for e in urgent] == ["auger"]
        assert status["alerts"]["fired"] == 1


def test_sigterm_ends_the_open_event_and_stops_cleanly(colour: Path, tmp_path: Path) -> None:
    video = write_colour_video(tmp_path / "long.mp4", [("black", 1), ("red", 60)], fps=5)
    config = write_config(tmp_path / "edge.yaml", {
        "device_id": "combine-09", "state_dir": str(tmp_path / "state"),
        "model": {"name": str(colour / "colour"), "threads": 1},
        "cameras": [{"name": "auger", "source": str(video)}],  # real-time pace: a minute of red
        "smoothing": {"window": 2, "min_duration_s": 1, "min_gap_s": 1},
    })  # fmt: skip
    env = os.environ | {"NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "mlway", "edge", "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        started = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                started = read_status(tmp_path / "state").events.started
            except Exception:  # noqa: BLE001 - not written yet
                started = 0
            if started:
                break
            time.sleep(0.1)
        assert started == 1, "the agent never confirmed the red event"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    status = read_status(tmp_path / "state")
    assert status.state == "stopped"
    assert (status.events.started, status.events.ended, status.events.open) == (1, 1, 0)
    assert status.cameras["auger"].inferred < 300  # stopped mid-file, not at its end
    assert [e.kind for e in records_in(tmp_path / "state", "combine-09") if isinstance(e, EventRecord)] == [
        "start",
        "end",
    ]
