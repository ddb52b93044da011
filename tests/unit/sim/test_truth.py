"""Ground-truth events agree with the per-frame labels, camera by camera."""

from __future__ import annotations

import itertools

import numpy as np

from mlway.sim import CLASSES, Shift
from mlway.sim.truth import events_of, states_of


def test_every_labelled_frame_lies_in_an_event_of_its_class_and_vice_versa(half_hour: Shift) -> None:
    for mid, s in half_hour.schedules.items():
        tl = half_hour.timelines[mid]
        events = events_of(s)
        for camera, labels in (("header", tl.header_label), ("auger", tl.auger_label)):
            covered = np.full(len(tl), "idle", dtype=object)
            for e in (e for e in events if e.camera == camera):
                inside = (tl.times >= e.start_s) & (tl.times < e.end_s)
                assert (covered[inside] == "idle").all(), "events of one camera overlap"
                covered[inside] = e.kind
                if e.end_s - e.start_s >= 1.0 / half_hour.config.fps:
                    assert inside.any()
            assert (covered == np.array([CLASSES[k] for k in labels], dtype=object)).all()


def test_an_interrupted_unloading_is_two_unloading_events_around_the_failure(half_hour: Shift) -> None:
    for s in half_hour.schedules.values():
        events = [e for e in events_of(s) if e.camera == "auger"]
        for u in s.unloadings:
            for f in u.failures:
                fail = next(e for e in events if e.kind == "unloading_failure" and e.start_s == round(f.start, 3))
                assert fail.detail == f.mode
                before = [e for e in events if e.kind == "unloading" and e.end_s == fail.start_s]
                assert len(before) == 1
                if f.resolved and f.end < s.duration:
                    assert any(e.kind == "unloading" and e.start_s == fail.end_s for e in events)


def test_events_stay_inside_the_shift(half_hour: Shift) -> None:
    for s in half_hour.schedules.values():
        for e in events_of(s):
            assert 0.0 <= e.start_s < e.end_s <= s.duration


def test_machine_states_tile_the_shift(half_hour: Shift) -> None:
    tl = half_hour.timelines["combine-02"]
    states = states_of(tl, "combine-02")
    assert states[0]["start_s"] == 0.0
    assert states[-1]["end_s"] == half_hour.config.duration_s
    for a, b in itertools.pairwise(states):
        assert a["end_s"] == b["start_s"]
        assert a["state"] != b["state"]
    kinds = {row["state"] for row in states}
    assert {"harvesting", "turning", "unloading"} <= kinds
