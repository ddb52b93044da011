"""Temporal smoothing: moving average/EMA, hysteresis, minimum duration, stable ids, unsure state, matching."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlway.core import InputError
from mlway.core.smoothing import (
    EventSmoother,
    EventUpdate,
    SmoothingConfig,
    Span,
    Thresholds,
    match_events,
    smooth_series,
    softmax,
)

LABELS = ["idle", "harvesting", "unloading", "unloading_failure"]
IDLE = [0.9, 0.05, 0.03, 0.02]
UNLOAD = [0.05, 0.05, 0.85, 0.05]
WEAK_UNLOAD = [0.3, 0.05, 0.6, 0.05]
FAIL = [0.05, 0.05, 0.1, 0.8]


def run(smoother: EventSmoother, frames: list[list[float]], fps: float = 1.0, t0: float = 0.0) -> list[EventUpdate]:
    out: list[EventUpdate] = []
    for i, scores in enumerate(frames):
        out += smoother.push(t0 + i / fps, scores)
    return out


def test_a_steady_event_starts_once_and_ends_once_with_one_id_and_frame_times() -> None:
    config = SmoothingConfig(window=3, min_duration_s=2.0, min_gap_s=0.0, update_every_s=0)
    smoother = EventSmoother(LABELS, config, source="combine-07/auger")
    updates = run(smoother, [IDLE] * 5 + [UNLOAD] * 10 + [IDLE] * 6)
    assert [u.kind for u in updates] == ["start", "end"]
    start, end = updates
    assert start.event_id == end.event_id
    assert start.event_id.startswith("combine-07/auger/")
    assert start.label == "unloading"
    assert start.source == "combine-07/auger"
    # unloading from t=5: the 3-frame average first reaches 0.6 at t=7, and the start fires 2 s later
    assert start.start_s == 7.0
    assert start.time_s == 9.0
    # idle from t=15: the average is still above exit (0.4) at t=15, below at t=16, which ends the event
    assert end.end_s == 15.0
    assert end.time_s == 16.0
    assert end.confidence > 0.7
    assert not end.unsure


def test_single_frame_flicker_never_becomes_an_event() -> None:
    smoother = EventSmoother(LABELS, SmoothingConfig(window=5, min_duration_s=1.0))
    frames = [IDLE] * 5 + [UNLOAD] + [IDLE] * 5 + [FAIL] + [IDLE] * 5
    assert run(smoother, frames) == []
    assert smoother.close() == []


def test_minimum_duration_drops_short_candidates() -> None:
    config = SmoothingConfig(window=1, min_duration_s=5.0)
    smoother = EventSmoother(LABELS, config)
    assert run(smoother, [IDLE] * 3 + [UNLOAD] * 4 + [IDLE] * 3) == []
    updates = run(smoother, [UNLOAD] * 8 + [IDLE] * 5, t0=100.0)
    assert [u.kind for u in updates] == ["start", "end"]


def test_hysteresis_keeps_an_event_open_between_exit_and_enter() -> None:
    config = SmoothingConfig(window=1, enter=0.8, exit=0.4, min_duration_s=0, min_gap_s=0, update_every_s=0)
    smoother = EventSmoother(LABELS, config)
    updates = run(smoother, [UNLOAD] * 3 + [WEAK_UNLOAD] * 10 + [IDLE] * 2)
    assert [u.kind for u in updates] == ["start", "update", "end"]
    assert updates[1].unsure  # 0.6 is below sure=0.7
    assert updates[2].end_s == 12.0


def test_a_short_dip_is_bridged_and_a_long_one_splits_the_event() -> None:
    config = SmoothingConfig(window=1, min_duration_s=0, min_gap_s=3.0, update_every_s=0)
    smoother = EventSmoother(LABELS, config)
    bridged = run(smoother, [UNLOAD] * 5 + [IDLE] * 2 + [UNLOAD] * 5 + [IDLE] * 5)
    assert [u.kind for u in bridged] == ["start", "end"]
    assert bridged[1].end_s == 11.0
    smoother = EventSmoother(LABELS, config)
    split = run(smoother, [UNLOAD] * 5 + [IDLE] * 6 + [UNLOAD] * 5 + [IDLE] * 5)
    assert [u.kind for u in split] == ["start", "end", "start", "end"]
    assert split[0].event_id != split[2].event_id


def test_unloading_then_failure_gives_two_events_in_order() -> None:
    config = SmoothingConfig(window=3, min_duration_s=1.0, min_gap_s=1.0)
    spans = smooth_series(
        LABELS, [(i * 0.5, s) for i, s in enumerate([IDLE] * 6 + [UNLOAD] * 20 + [FAIL] * 20 + [IDLE] * 10)], config
    )
    assert [s.label for s in spans] == ["unloading", "unloading_failure"]
    assert spans[0].end_s <= spans[1].start_s + 1.0


def test_ema_smooths_too() -> None:
    smoother = EventSmoother(LABELS, SmoothingConfig(method="ema", alpha=0.5, min_duration_s=1.0))
    assert run(smoother, [IDLE] * 3 + [UNLOAD] + [IDLE] * 3) == []
    updates = run(smoother, [UNLOAD] * 6 + [IDLE] * 6, t0=10)
    assert [u.kind for u in updates] == ["start", "end"]


def test_a_window_in_seconds_suits_any_frame_rate() -> None:
    config = SmoothingConfig(window=100, window_s=2.0, min_duration_s=0, min_gap_s=0, update_every_s=0)
    for fps in (1.0, 5.0):
        smoother = EventSmoother(LABELS, config)
        frames = [IDLE] * int(10 * fps) + [UNLOAD] * int(10 * fps) + [IDLE] * int(10 * fps)
        updates = [u for u in run(smoother, frames, fps=fps) if u.kind != "update"]
        assert [u.kind for u in updates] == ["start", "end"]
        # the 2 s average passes 0.6 about 1.4 s after unloading starts at t=10, whatever the frame rate
        assert 10.0 < updates[0].start_s <= 11.5
        assert updates[1].end_s is not None
        assert 20.0 <= updates[1].end_s <= 21.5


def test_periodic_updates_carry_running_confidence() -> None:
    config = SmoothingConfig(window=1, min_duration_s=0, update_every_s=5.0)
    smoother = EventSmoother(LABELS, config)
    updates = run(smoother, [UNLOAD] * 16)
    assert [u.kind for u in updates] == ["start", "update", "update", "update"]
    assert [u.time_s for u in updates] == [0.0, 5.0, 10.0, 15.0]
    assert all(u.frames == u.time_s + 1 for u in updates)
    assert updates[-1].confidence == pytest.approx(0.85)


def test_close_ends_open_events_and_a_long_frame_gap_ends_them_too() -> None:
    smoother = EventSmoother(LABELS, SmoothingConfig(window=1, min_duration_s=0, update_every_s=0))
    updates = run(smoother, [FAIL] * 4)
    updates += smoother.push(100.0, FAIL)  # a 97 s gap: the camera stopped delivering
    assert [u.kind for u in updates] == ["start", "end", "start"]
    assert updates[1].end_s == 3.0
    closing = smoother.close()
    assert [u.kind for u in closing] == ["end"]
    assert closing[0].end_s == 100.0


def test_custom_ids_and_per_label_thresholds() -> None:
    ids = iter(["evt-1", "evt-2"])
    config = SmoothingConfig(window=1, min_duration_s=10.0, labels={"unloading_failure": Thresholds(min_duration_s=0)})
    smoother = EventSmoother(LABELS, config, id_factory=lambda label: next(ids))
    updates = run(smoother, [FAIL] * 2)
    assert [(u.kind, u.event_id, u.label) for u in updates] == [("start", "evt-1", "unloading_failure")]


def test_frame_state_reports_the_top_label_and_unsure() -> None:
    smoother = EventSmoother(LABELS, SmoothingConfig(window=2, sure=0.7))
    smoother.push(0.0, IDLE)
    assert smoother.last is not None
    assert smoother.last.label == "idle"
    assert not smoother.last.unsure
    smoother.push(1.0, UNLOAD)
    assert smoother.last.unsure  # the 2-frame average of idle and unloading is ~0.47 at most


@pytest.mark.parametrize(
    ("scores", "needle"),
    [([0.5, 0.5], "2 scores for 4 labels"), ([2.0, -1.0, 0.0, 0.0], "softmax"), ([float("nan")] * 4, "softmax")],
)
def test_bad_scores_are_rejected(scores: list[float], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        EventSmoother(LABELS).push(0.0, scores)


def test_time_going_backwards_is_rejected() -> None:
    smoother = EventSmoother(LABELS)
    smoother.push(5.0, IDLE)
    with pytest.raises(InputError, match="before the previous frame"):
        smoother.push(4.0, IDLE)


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match="exit must be <= enter"):
        SmoothingConfig(enter=0.5, exit=0.6)
    with pytest.raises(InputError, match="not among the model's labels"):
        EventSmoother(LABELS, SmoothingConfig(background=["sky"]))
    with pytest.raises(InputError, match="distinct"):
        EventSmoother(["a", "a"])


def test_softmax() -> None:
    probs = softmax([1000.0, 1000.0, 0.0])
    assert probs[0] == pytest.approx(0.5)
    assert sum(probs) == pytest.approx(1.0)


def test_matching_is_one_to_one_by_iou_per_source() -> None:
    truth = [Span("unloading", "a", 0, 10), Span("unloading", "a", 20, 30), Span("unloading", "b", 0, 10)]
    predicted = [
        Span("unloading", "a", 1, 11),  # matches a:0-10
        Span("unloading", "a", 2, 9),  # a second hit on the same true event: a false positive
        Span("unloading", "a", 29, 40),  # IoU 1/20 with a:20-30: below 0.3
        Span("unloading", "b", 0, 10),
        Span("unloading_failure", "a", 20, 30),  # another label: ignored
    ]
    score = match_events(predicted, truth, "unloading", min_iou=0.3)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 2, 1)
    assert score.precision == 0.5
    assert score.recall == pytest.approx(2 / 3)
    empty = match_events([], [], "unloading_failure")
    assert (empty.precision, empty.recall) == (1.0, 1.0)
