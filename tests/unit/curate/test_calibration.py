"""Temperature scaling and ECE: an overconfident model is made honest; accuracy never changes."""

from __future__ import annotations

import numpy as np
import pytest

from mlway.curate.calibration import ece, fit_temperature, nll, softmax
from mlway.curate.metrics import frame_metrics


def overconfident(n: int = 4000, scale: float = 4.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax at T=1 would be honest, multiplied by ``scale`` (so the fitted T is ~scale)."""
    rng = np.random.default_rng(seed)
    honest = rng.normal(size=(n, 4)) * 1.5
    labels = np.array([rng.choice(4, p=p) for p in softmax(honest)])
    return honest * scale, labels


def test_fitted_temperature_undoes_overconfidence_and_lowers_ece() -> None:
    logits, labels = overconfident()
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(4.0, rel=0.15)
    before, after = ece(softmax(logits), labels), ece(softmax(logits, temperature), labels)
    assert after < before / 3
    assert after < 0.03
    assert nll(logits, labels, temperature) < nll(logits, labels)
    assert (softmax(logits).argmax(1) == softmax(logits, temperature).argmax(1)).all()


def test_ece_is_zero_for_a_perfect_confident_model_and_large_for_a_confident_wrong_one() -> None:
    labels = np.array([0, 1, 2, 3] * 10)
    right = np.eye(4)[labels]
    assert ece(right, labels) == pytest.approx(0.0)
    wrong = np.eye(4)[(labels + 1) % 4]
    assert ece(wrong, labels) == pytest.approx(1.0)
    assert ece(np.zeros((0, 4)), np.zeros(0, np.int64)) == 0.0


def test_frame_metrics_per_class() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 3])
    predicted = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    metrics = frame_metrics(np.eye(4)[predicted], labels, ["idle", "harvesting", "unloading", "unloading_failure"])
    assert metrics.accuracy == pytest.approx(6 / 8)
    assert metrics.recall["idle"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics.precision["harvesting"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics.precision["unloading_failure"] == 0.5
    assert metrics.support == {"idle": 3, "harvesting": 2, "unloading": 2, "unloading_failure": 1}
    assert metrics.confusion[2] == [0, 0, 1, 1]
    flat = metrics.flat("val_")
    assert flat["val_recall_unloading"] == 0.5
