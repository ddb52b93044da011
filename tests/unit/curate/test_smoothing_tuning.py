"""Smoothing chosen on validation scores: one setting that gives every variant of a bundle clean events."""

from __future__ import annotations

import numpy as np

from mlway.core.smoothing import Span
from mlway.curate.evaluate import StreamScores, event_scores, predicted_spans, tune_smoothing

SOURCE = "shift/combine-09/auger"
GRID = {"window_s": (1.0, 3.0), "enter": (0.5,), "exit": (0.3,), "min_duration_s": (1.0, 4.0), "min_gap_s": (2.0,)}


def _stream(blips: list[int]) -> StreamScores:
    """600 s at 1 frame/s: idle, an unloading 100-160 s turning into a failure 160-190 s, more unloading to 230 s;
    ``blips``: single frames that wrongly say failure (a noisy variant)."""
    times = np.arange(600, dtype=np.float64)
    labels = np.zeros(600, np.int64)
    labels[100:160], labels[160:190], labels[190:230] = 2, 3, 2
    predicted = labels.copy()
    predicted[blips] = 3
    probs = np.full((600, 4), 0.02, np.float32)
    probs[np.arange(600), predicted] = 0.94
    return StreamScores(SOURCE, times, labels, probs, np.log(probs))


TRUTH = [
    Span("unloading", SOURCE, 100.0, 160.0),
    Span("unloading_failure", SOURCE, 160.0, 190.0),
    Span("unloading", SOURCE, 190.0, 230.0),
]


def test_the_setting_suits_the_noisy_variant_too() -> None:
    clean, noisy = _stream([]), _stream([300, 301, 450, 451, 452])
    alone, _ = tune_smoothing([[clean]], TRUTH, GRID)
    assert alone.min_duration_s == 1.0  # the first setting that is perfect for the clean variant
    leaky = event_scores(predicted_spans([noisy], alone), TRUTH)
    assert leaky["unloading_failure"].false_positives == 2  # the blips become false failures
    both, worst_f1 = tune_smoothing([[clean], [noisy]], TRUTH, GRID)
    assert both.min_duration_s == 4.0
    assert worst_f1 == 1.0
    for streams in ([clean], [noisy]):
        scores = event_scores(predicted_spans(streams, both), TRUTH)
        assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores.values())
