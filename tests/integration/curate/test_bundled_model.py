"""The bundled harvest-cam model: loads in a runtime ModelHost and classifies frames of a fresh shift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlway.assets import bundled_model_path, bundled_models
from mlway.core.smoothing import SmoothingConfig
from mlway.curate import CLASSES
from mlway.curate.evaluate import event_scores, predicted_spans, score_shift, truth_spans
from mlway.curate.inference import preprocess
from mlway.runtime import Budget, ModelHost, load_bundle
from mlway.sim import open_shift

BUNDLE = bundled_model_path("harvest-cam")


def test_the_bundle_is_small_complete_and_documented() -> None:
    assert bundled_models() == ["harvest-cam"]
    bundle = load_bundle(BUNDLE)
    assert [v.name for v in bundle.manifest.variants] == ["fp32", "int8", "int8-80x60"]
    assert sum(p.stat().st_size for p in BUNDLE.iterdir()) < 10 * 1024**2
    report = json.loads((BUNDLE / "training.json").read_text())
    assert report["ece_after"] < report["ece_before"]
    SmoothingConfig.model_validate_json((BUNDLE / "smoothing.json").read_text())
    assert "mlway curate train" in (BUNDLE / "README.md").read_text()
    for variant in bundle.manifest.variants:
        assert variant.metrics["val_accuracy"] > 0.8
        assert variant.measurements


def test_the_bundled_model_classifies_a_fresh_shift_in_a_model_host(unloading_shift: Path) -> None:
    shift = open_shift(unloading_shift)
    frames = list(shift.frames(step=3))
    labels = np.array([CLASSES.index(f.label) for f in frames])
    bundle = load_bundle(BUNDLE)
    predicted = []
    with ModelHost() as host:
        host.start([bundle], Budget(memory="2GiB", cpus=1))
        for start in range(0, len(frames), 32):
            batch = preprocess((f.frame for f in frames[start : start + 32]), (128, 96))
            outputs = host.infer("harvest-cam", {"image": batch}, timeout=60.0)
            probs = outputs["probs"]
            assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
            predicted += probs.argmax(axis=1).tolist()
    accuracy = float((np.array(predicted) == labels).mean())
    majority = np.bincount(labels).max() / len(labels)
    assert accuracy > 0.85
    assert accuracy > majority + 0.2
    for c in (CLASSES.index("unloading"), CLASSES.index("unloading_failure")):
        assert (np.array(predicted)[labels == c] == c).mean() > 0.5


def test_smoothed_events_of_the_bundled_model_find_the_unloadings_and_failures(unloading_shift: Path) -> None:
    streams = score_shift(BUNDLE / "int8.onnx", unloading_shift, (128, 96), threads=1)
    smoothing = SmoothingConfig.model_validate_json((BUNDLE / "smoothing.json").read_text())
    scores = event_scores(predicted_spans(streams, smoothing), truth_spans([unloading_shift]))
    assert scores["unloading_failure"].recall == pytest.approx(1.0)
    assert scores["unloading"].recall >= 0.5
