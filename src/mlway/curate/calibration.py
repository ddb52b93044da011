"""Honest confidence: temperature scaling fitted on validation logits, and the expected calibration error.

Temperature scaling (Guo et al., 2017) divides every logit by one number T fitted to minimise the
negative log-likelihood of held-out labels; the argmax, hence accuracy, does not change. ECE is the
frame-weighted mean gap between confidence (top probability) and accuracy over ``bins`` equal-width
confidence bins.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def softmax(logits: NDArray[np.floating], temperature: float = 1.0) -> FloatArray:
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def nll(logits: NDArray[np.floating], labels: NDArray[np.integer], temperature: float = 1.0) -> float:
    probs = softmax(logits, temperature)
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def ece(probs: NDArray[np.floating], labels: NDArray[np.integer], bins: int = 15) -> float:
    """Expected calibration error of ``probs`` (n, classes) against ``labels`` (n,)."""
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(float(confidence[mask].mean()) - float(correct[mask].mean()))
    return total / len(labels)


def fit_temperature(
    logits: NDArray[np.floating], labels: NDArray[np.integer], *, low: float = 0.05, high: float = 20.0
) -> float:
    """The T in [low, high] that minimises the NLL (golden-section search on log T; NLL is unimodal in it)."""
    if len(labels) == 0:
        return 1.0
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(logits, labels, math.exp(c)), nll(logits, labels, math.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(logits, labels, math.exp(d))
    return round(math.exp((a + b) / 2), 4)
