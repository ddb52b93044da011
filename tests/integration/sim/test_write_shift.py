"""A written shift: files a user and the training and edge code rely on, decodable and consistent."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mlway import __version__
from mlway.core.errors import InputError
from mlway.sim import CLASSES, Shift, ShiftConfig, ShiftOutput, open_shift, read_frames, write_shift
from mlway.sim.writer import prepare_out

from .conftest import MINUTE


def test_layout_and_manifest(written: ShiftOutput) -> None:
    out = written.out
    m = json.loads((out / "manifest.json").read_text())
    assert m == written.manifest
    assert m["mlway_version"] == __version__
    assert m["seed"] == 21
    assert m["config"]["machines"] == 2
    assert m["frames_per_camera"] == 300
    assert m["classes"] == list(CLASSES)
    for machine in m["machines"]:
        assert set(machine["poses"]) == {"header", "auger"}
        assert set(machine["poses"]["auger"]) == {"angle_deg", "offset_x", "offset_y", "zoom"}
        for path in [*machine["videos"].values(), machine["sensors"]]:
            assert (out / path).is_file()
        assert abs(machine["sensor_clock"]["offset_s"]) > 0
    assert (out / "events.json").is_file()
    assert (out / "labels.csv").is_file()


def test_decoded_video_has_one_frame_per_label_row(written: ShiftOutput) -> None:
    shift = open_shift(written.out)
    with (written.out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 2 * 300
    for machine in shift.machines:
        for camera in ("header", "auger"):
            frames = list(read_frames(shift.video_path(machine, camera)))
            assert len(frames) == len(shift.labels(machine, camera)) == 300
            assert frames[0].shape == (240, 320, 3)


def test_the_video_shows_the_rendered_frames(written: ShiftOutput) -> None:
    shift, recorded = Shift(MINUTE), open_shift(written.out)
    for f in recorded.frames("combine-02", "auger", step=60):
        raw = shift.frame("combine-02", "auger", f.frame_index).frame.astype(float)
        mse = float(np.mean((raw - f.frame.astype(float)) ** 2))
        psnr = 10 * np.log10(255**2 / mse)
        assert psnr > 24.0, f"frame {f.frame_index}: {psnr:.1f} dB"
        assert f.label == shift.label("combine-02", "auger", f.frame_index)
        assert f.timestamp == pytest.approx(f.frame_index / 5.0)


def test_labels_agree_with_events(written: ShiftOutput) -> None:
    recorded = open_shift(written.out)
    events = recorded.events()["events"]
    for machine in recorded.machines:
        for camera in ("header", "auger"):
            for row in recorded.labels(machine, camera):
                t = float(row["time_s"])
                hits = [e["kind"] for e in events if e["machine"] == machine and e["camera"] == camera
                        and e["start_s"] <= t < e["end_s"]]  # fmt: skip
                assert hits == ([] if row["label"] == "idle" else [row["label"]])


def test_sensor_files_hold_every_sensor(written: ShiftOutput) -> None:
    recorded = open_shift(written.out)
    rows = recorded.sensors("combine-01")
    assert {name for _, name, _ in rows} == set(recorded.manifest["sensors"])
    assert all(0.0 <= t <= 60.5 for t, _, _ in rows)


def test_same_seed_same_files_other_seed_other_frames(written: ShiftOutput, tmp_path: Path) -> None:
    again = write_shift(MINUTE, tmp_path / "again")
    assert again.manifest == written.manifest
    for name in ("events.json", "labels.csv", "sensors/combine-01.csv", "video/combine-01_auger.mp4"):
        assert (again.out / name).read_bytes() == (written.out / name).read_bytes(), name
    other = write_shift(MINUTE.model_copy(update={"seed": 22, "hours": 0.002}), tmp_path / "other")
    assert other.manifest["machines"][0]["raw_sha256"] != written.manifest["machines"][0]["raw_sha256"]


def test_mpeg4_is_written_too(tmp_path: Path) -> None:
    out = write_shift(ShiftConfig(machines=1, hours=0.002, codec="mpeg4"), tmp_path / "mp4v").out
    frames = list(open_shift(out).frames("combine-01", "header"))
    assert len(frames) == 36
    assert open_shift(out).manifest["video"]["encoder"] == "mpeg4"


def test_out_must_be_empty_unless_overwritten(written: ShiftOutput, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--overwrite"):
        prepare_out(written.out, overwrite=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        prepare_out(tmp_path / "file", overwrite=True)
    with pytest.raises(InputError, match="cannot write"):
        prepare_out(tmp_path / "file" / "below", overwrite=False)


def test_a_truncated_video_is_reported(written: ShiftOutput, tmp_path: Path) -> None:
    small = write_shift(ShiftConfig(machines=1, hours=0.002), tmp_path / "small")
    labels = small.out / "labels.csv"
    lines = labels.read_text().splitlines()
    labels.write_text("\n".join(lines[:-5]) + "\n")  # the header camera now has more frames than labels
    with pytest.raises(Exception, match=r"more frames than labels|labels\.csv has"):
        list(open_shift(small.out).frames("combine-01", "auger"))


def test_a_directory_without_a_manifest_is_not_a_shift(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no manifest"):
        open_shift(tmp_path)


def test_overwrite_leaves_no_files_of_the_earlier_shift(tmp_path: Path) -> None:
    out = tmp_path / "s"
    write_shift(ShiftConfig(machines=2, hours=0.001), out)
    (out / "notes.txt").write_text("mine")
    write_shift(ShiftConfig(machines=1, hours=0.001), out, overwrite=True)
    assert sorted(p.name for p in (out / "video").iterdir()) == ["combine-01_auger.mp4", "combine-01_header.mp4"]
    assert [p.name for p in (out / "sensors").iterdir()] == ["combine-01.csv"]
    assert (out / "notes.txt").read_text() == "mine"
