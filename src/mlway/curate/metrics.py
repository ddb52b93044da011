"""Frame-level quality: accuracy, per-class precision and recall, the confusion matrix, and ECE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from mlway.curate.calibration import ece


@dataclass(frozen=True)
class FrameMetrics:
    """How a classifier did on a set of frames; ``confusion[true][predicted]`` counts frames."""

    frames: int
    accuracy: float
    ece: float
    precision: dict[str, float]
    recall: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]] = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "accuracy": self.accuracy,
            "ece": self.ece,
            "precision": self.precision,
            "recall": self.recall,
            "support": self.support,
            "confusion": self.confusion,
        }

    def flat(self, prefix: str = "") -> dict[str, float]:
        """For a manifest's ``metrics``: accuracy, ece, precision_<class>, recall_<class>."""
        out = {f"{prefix}accuracy": self.accuracy, f"{prefix}ece": self.ece}
        out |= {f"{prefix}precision_{k}": v for k, v in self.precision.items()}
        out |= {f"{prefix}recall_{k}": v for k, v in self.recall.items()}
        return out


def frame_metrics(probs: NDArray[np.floating], labels: NDArray[np.integer], classes: Sequence[str]) -> FrameMetrics:
    """Metrics of ``probs`` (n, classes) against true ``labels`` (n,); a class never predicted has precision 1."""
    predicted = probs.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    k = len(classes)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    precision, recall, support = {}, {}, {}
    for i, name in enumerate(classes):
        said, real = int(confusion[:, i].sum()), int(confusion[i, :].sum())
        precision[name] = round(float(confusion[i, i]) / said, 4) if said else 1.0
        recall[name] = round(float(confusion[i, i]) / real, 4) if real else 1.0
        support[name] = real
    accuracy = float(np.trace(confusion)) / len(labels) if len(labels) else 0.0
    return FrameMetrics(
        frames=len(labels),
        accuracy=round(accuracy, 4),
        ece=round(ece(probs, labels), 4),
        precision=precision,
        recall=recall,
        support=support,
        confusion=confusion.tolist(),
    )
