"""Per-frame facts follow the schedule: labels, auger, grain flow, cart, per camera."""

from __future__ import annotations

import numpy as np

from mlway.sim import CLASSES, Shift
from mlway.sim.timeline import AUGER_SWING_S


def _frames(shift: Shift, start: float, end: float) -> slice:
    fps = shift.config.fps
    return slice(int(np.ceil(start * fps)), int(np.ceil(end * fps)))


def test_auger_labels_follow_unloadings_and_failures(half_hour: Shift) -> None:
    for mid, s in half_hour.schedules.items():
        tl = half_hour.timelines[mid]
        for u in s.unloadings:
            inside = tl.auger_label[_frames(half_hour, u.start, u.end)]
            assert set(inside.tolist()) <= {CLASSES.index("unloading"), CLASSES.index("unloading_failure")}
            for f in u.failures:
                assert (tl.auger_label[_frames(half_hour, f.start, f.end)] == CLASSES.index("unloading_failure")).all()
        engaged = np.zeros(len(tl), bool)
        for u in s.unloadings:
            engaged[_frames(half_hour, u.start, u.end)] = True
        assert (tl.auger_label[~engaged] == CLASSES.index("idle")).all()


def test_grain_flows_when_unloading_and_not_in_a_failure(half_hour: Shift) -> None:
    for tl in half_hour.timelines.values():
        unloading = tl.auger_label == CLASSES.index("unloading")
        failing = tl.auger_label == CLASSES.index("unloading_failure")
        assert np.median(tl.flow[unloading]) == 1.0
        settled = failing & np.roll(failing, 2)  # the stream stops within two frames
        assert (tl.flow[settled] == 0.0).all()
        assert (tl.auger_out[unloading | failing] > 0.99).all()
        assert not np.isnan(tl.cart_pos[unloading | failing]).any()


def test_the_auger_swings_out_before_grain_flows(half_hour: Shift) -> None:
    s = half_hour.schedules["combine-01"]
    tl = half_hour.timelines["combine-01"]
    u = s.unloadings[0]
    before = _frames(half_hour, u.start - AUGER_SWING_S, u.start)
    out = tl.auger_out[before]
    assert out[0] < 0.5 < out[-1]
    assert (tl.flow[before] == 0).all()


def test_header_camera_shows_harvesting_only_while_harvesting(half_hour: Shift) -> None:
    for mid, s in half_hour.schedules.items():
        tl = half_hour.timelines[mid]
        harvesting = np.zeros(len(tl), bool)
        for seg in s.drive:
            if seg.kind == "harvesting":
                harvesting[_frames(half_hour, seg.start, seg.end)] = True
        assert ((tl.header_label == CLASSES.index("harvesting")) == harvesting).all()
        assert (tl.speed[harvesting & np.roll(harvesting, 15)] > 1.0).all()


def test_every_class_occurs_in_the_half_hour(half_hour: Shift) -> None:
    seen = set()
    for tl in half_hour.timelines.values():
        seen |= {CLASSES[k] for k in np.unique(tl.header_label)} | {CLASSES[k] for k in np.unique(tl.auger_label)}
    assert seen == set(CLASSES)
