"""Evaluate a model on recorded shifts: per-frame scores, smoothed events, and event precision/recall.

    streams = score_shift(Path("models/harvest-cam/int8.onnx"), Path("data/test"), size=(128, 96))
    truth = truth_spans([Path("data/test")])
    found = predicted_spans(streams, SmoothingConfig(window=5))
    match_events(found, truth, "unloading_failure", min_iou=0.3).recall

A stream is one camera of one machine (source ``"<shift dir>/<machine>/<camera>"``); events are matched
within a stream. Smoothing is ``mlway.core.smoothing``, the code the edge agent runs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mlway.core.smoothing import EventScore, SmoothingConfig, Span, match_events, smooth_series
from mlway.curate.dataset import CLASSES, LABEL_MAP, FrameSet, Size, source_of
from mlway.curate.export import INPUT
from mlway.curate.inference import preprocess, session
from mlway.sim import open_shift

EVENT_CLASSES = ("unloading", "unloading_failure")
"""The events the talk cares about (and the quality goal names); harvesting is reported too."""


@dataclass
class StreamScores:
    """One camera stream of one shift: frame times, true labels and the model's probabilities."""

    source: str
    times: NDArray[np.float64]
    labels: NDArray[np.int64]
    probs: NDArray[np.float32]
    logits: NDArray[np.float32]


def score_shift(model: Path, root: Path, size: Size, *, threads: int = 2, batch: int = 64) -> list[StreamScores]:
    """Run ``model`` (an ONNX file of a bundle) on every frame of a shift, stream by stream."""
    return score_variants({"model": (model, size)}, root, threads=threads, batch=batch)["model"]


def score_variants(
    models: dict[str, tuple[Path, Size]], root: Path, *, threads: int = 2, batch: int = 64
) -> dict[str, list[StreamScores]]:
    """Run several models (name -> ONNX file and input size) on every frame of a shift, decoding it once."""
    runs = {name: session(path, threads) for name, (path, _) in models.items()}
    shift = open_shift(root)
    out: dict[str, list[StreamScores]] = {name: [] for name in models}
    for machine, camera in itertools.product(shift.machines, shift.manifest["cameras"]):
        times: list[float] = []
        labels: list[int] = []
        probs: dict[str, list[NDArray[np.float32]]] = {name: [] for name in models}
        logits: dict[str, list[NDArray[np.float32]]] = {name: [] for name in models}
        frames = shift.frames(machine, camera)
        while chunk := list(itertools.islice(frames, batch)):
            inputs: dict[Size, NDArray[np.float32]] = {}
            for name, (_, size) in models.items():
                if size not in inputs:
                    inputs[size] = preprocess((f.frame for f in chunk), size)
                p, z = runs[name].run(["probs", "logits"], {INPUT: inputs[size]})
                probs[name].append(p)
                logits[name].append(z)
            times += [f.timestamp for f in chunk]
            labels += [CLASSES.index(LABEL_MAP[f.label]) for f in chunk]
        empty = np.zeros((0, len(CLASSES)), np.float32)
        for name in models:
            out[name].append(
                StreamScores(
                    source_of(root, machine, camera),
                    np.asarray(times, np.float64),
                    np.asarray(labels, np.int64),
                    np.concatenate(probs[name]) if probs[name] else empty,
                    np.concatenate(logits[name]) if logits[name] else empty,
                )
            )
    return out


def streams_of(frames: FrameSet, probs: NDArray[np.float32], logits: NDArray[np.float32]) -> list[StreamScores]:
    """Split a FrameSet's scores into its streams (each stream's frames are contiguous in a FrameSet)."""
    out: list[StreamScores] = []
    start = 0
    for source, group in itertools.groupby(frames.streams):
        end = start + len(list(group))
        out.append(StreamScores(source, frames.times[start:end], frames.labels[start:end], probs[start:end],
                                logits[start:end]))  # fmt: skip
        start = end
    return out


def truth_spans(roots: Iterable[Path], machines: set[str] | None = None) -> list[Span]:
    """The shifts' true events (events.json; of ``machines`` only, if given), as spans of their camera's stream."""
    spans = []
    for root in roots:
        doc = json.loads((root / open_shift(root).manifest["files"]["events"]).read_text())
        spans += [
            Span(
                LABEL_MAP.get(e["kind"], e["kind"]),
                source_of(root, e["machine"], e["camera"]),
                e["start_s"],
                e["end_s"],
            )
            for e in doc["events"]
            if machines is None or e["machine"] in machines
        ]
    return spans


def predicted_spans(streams: Sequence[StreamScores], config: SmoothingConfig) -> list[Span]:
    """Events the smoother finds in every stream."""
    spans: list[Span] = []
    for stream in streams:
        frames = zip(stream.times.tolist(), stream.probs.tolist(), strict=True)
        spans += smooth_series(CLASSES, frames, config, source=stream.source)
    return spans


def event_scores(
    predicted: Sequence[Span], truth: Sequence[Span], labels: Sequence[str] = EVENT_CLASSES, *, min_iou: float = 0.3
) -> dict[str, EventScore]:
    return {label: match_events(predicted, truth, label, min_iou=min_iou) for label in labels}


def score_table(scores: dict[str, EventScore]) -> dict[str, dict[str, float]]:
    """Precision, recall and counts per label, for reports."""
    return {
        label: {
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "true_positives": s.true_positives,
            "false_positives": s.false_positives,
            "false_negatives": s.false_negatives,
        }
        for label, s in scores.items()
    }


def _f1(score: EventScore) -> float:
    p, r = score.precision, score.recall
    return 2 * p * r / (p + r) if p + r else 0.0


SMOOTHING_GRID: dict[str, Sequence[float]] = {
    "window_s": (1.0, 3.0, 5.0, 8.0),
    "enter": (0.5, 0.6, 0.7),
    "exit": (0.3, 0.45),
    "min_duration_s": (1.0, 3.0, 5.0),
    "min_gap_s": (2.0, 5.0, 10.0),
}
"""Smoothing settings tried on the validation machines (time-based, so they carry to other frame rates)."""
SMOOTHING_BASE = SmoothingConfig(window=1000)


def tune_smoothing(
    variants: Sequence[Sequence[StreamScores]],
    truth: Sequence[Span],
    grid: dict[str, Sequence[float]],
    base: SmoothingConfig | None = None,
    *,
    min_iou: float = 0.3,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[SmoothingConfig, float]:
    """The grid point with the best worst event F1 over EVENT_CLASSES and over ``variants`` (each a model's scores
    of the same streams), so one setting suits every variant of a bundle; ties: the better mean, then the earlier."""
    base = base or SMOOTHING_BASE
    best: tuple[float, float, SmoothingConfig] | None = None
    keys = list(grid)
    points = list(itertools.product(*(grid[k] for k in keys)))
    for done, values in enumerate(points, 1):
        if progress:
            progress(done, len(points))
        settings = dict(zip(keys, values, strict=True))
        if settings.get("exit", base.exit) > settings.get("enter", base.enter):
            continue
        config = base.model_copy(update=settings)
        f1s = [
            _f1(score)
            for streams in variants
            for score in event_scores(predicted_spans(streams, config), truth, min_iou=min_iou).values()
        ]
        key = (min(f1s), float(np.mean(f1s)))
        if best is None or key > best[:2]:
            best = (*key, config)
    if best is None:
        return base, 0.0
    return best[2], best[0]
