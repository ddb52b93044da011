"""Rendered frames: the right shape, the same pixels for the same seed, and classes a person can tell apart."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mlway.sim import CLASSES, Shift, ShiftConfig
from mlway.sim.render.auger import RIM, SPOUT, AugerPainter


def _grain(img: NDArray[np.uint8]) -> float:
    """Share of grain-coloured pixels (golden wheat)."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return float(((r > 170) & (g > 110) & (g < 225) & (b < 150) & (r - b > 70)).mean())


def _spread(shift: Shift, machine: str, camera: str, label: str, n: int = 5) -> list[int]:
    tl = shift.timelines[machine]
    labels = tl.header_label if camera == "header" else tl.auger_label
    idx = np.flatnonzero(labels == CLASSES.index(label))
    if not len(idx):
        return []
    return [int(i) for i in idx[np.linspace(0, len(idx) - 1, n).astype(int)]]


def test_frames_are_rgb_arrays_of_the_configured_size() -> None:
    shift = Shift(ShiftConfig(machines=1, hours=0.005, width=160, height=96))
    f = shift.frame("combine-01", "auger", 10)
    assert f.frame.shape == (96, 160, 3)
    assert f.frame.dtype == np.uint8
    assert f.timestamp == 2.0
    assert f.label in CLASSES
    assert 20 < f.frame.mean() < 235


def test_same_config_same_pixels_in_any_order() -> None:
    config = ShiftConfig(machines=2, hours=0.01, seed=5)
    a, b = Shift(config), Shift(config)
    for i in (30, 0, 150):
        for camera in ("header", "auger"):
            assert np.array_equal(a.frame("combine-02", camera, i).frame, b.frame("combine-02", camera, i).frame)
    c = Shift(config.model_copy(update={"seed": 6}))
    assert not np.array_equal(a.frame("combine-02", "auger", 30).frame, c.frame("combine-02", "auger", 30).frame)


def test_a_grain_stream_falls_from_the_spout_only_while_unloading(half_hour: Shift) -> None:
    painter = half_hour.renderer("combine-01", "auger").painter
    assert isinstance(painter, AugerPainter)
    w, h = half_hour.config.width, half_hour.config.height
    tip = painter._tip(1.0)
    x = round((tip[0] + SPOUT[0] + 0.005) * w)
    y0, y1 = round((tip[1] + SPOUT[1] + 0.03) * h), round((RIM - 0.06) * h)
    for mid in half_hour.machines:
        for label, lo, hi in (("unloading", 0.5, 1.0), ("unloading_failure", 0.0, 0.1)):
            for i in _spread(half_hour, mid, "auger", label):
                scene = half_hour.scene(mid, i)
                if label == "unloading_failure" and scene.flow > 0:
                    continue  # the stream's last instant as the failure begins
                canvas = painter.paint(scene, np.random.default_rng(0))
                under_spout = canvas[y0:y1, x - 2 : x + 3]
                assert lo <= _grain(under_spout) <= hi, (mid, i, label)


def test_harvesting_shows_more_crop_than_idle_on_the_header_camera(half_hour: Shift) -> None:
    for mid in half_hour.machines:
        harvesting = np.mean([_grain(half_hour.frame(mid, "header", i).frame)
                              for i in _spread(half_hour, mid, "header", "harvesting")])  # fmt: skip
        idle = np.mean(
            [_grain(half_hour.frame(mid, "header", i).frame) for i in _spread(half_hour, mid, "header", "idle")]
        )
        assert harvesting > idle + 0.03


def test_night_is_darker_than_day() -> None:
    day = Shift(ShiftConfig(machines=1, hours=0.005, seed=2, start_hour=12.0)).frame("combine-01", "header", 5)
    night = Shift(ShiftConfig(machines=1, hours=0.005, seed=2, start_hour=23.5)).frame("combine-01", "header", 5)
    assert night.frame.mean() < 0.6 * day.frame.mean()


def test_each_machine_sees_the_scene_through_its_own_pose() -> None:
    shift = Shift(ShiftConfig(machines=2, hours=0.005, seed=4, distractor_rate=0))
    scene = shift.scene("combine-01", 3)
    a = shift.renderer("combine-01", "auger").effects.apply(np.full((240, 320, 3), 128, np.uint8), scene,
                                                             np.random.default_rng(1))  # fmt: skip
    assert a.shape == (240, 320, 3)
    one = shift.machines["combine-01"].poses["auger"]
    two = shift.machines["combine-02"].poses["auger"]
    assert one != two
