"""The training loop: class-balanced sampling, augmentation, AdamW with a one-cycle schedule, best epoch kept.

The epoch kept is the one with the best balanced accuracy (mean per-class recall) on the validation
machines, so a rare class (unloading failure) weighs as much as the common ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias
from numpy.typing import NDArray

from mlway.curate.augment import augment, resize
from mlway.curate.config import TrainConfig
from mlway.curate.dataset import CLASSES, FrameSet
from mlway.curate.model import FrameNet

StepProgress = Callable[[int, int, str], None]
"""(steps done, steps in total, a status line)."""


@dataclass
class FitResult:
    model: FrameNet
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def to_tensor(images: NDArray[np.uint8]) -> torch.Tensor:
    """(n, h, w, 3) uint8 -> (n, 3, h, w) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


def predict_logits(model: torch.nn.Module, images: NDArray[np.uint8], batch: int = 256) -> NDArray[np.float32]:
    """The model's logits for frames already at the model's input size."""
    model.eval()
    with torch.inference_mode():
        out = [model(to_tensor(images[i : i + batch])).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def balanced_accuracy(logits: NDArray[np.float32], labels: NDArray[np.int64]) -> float:
    predicted = logits.argmax(axis=1)
    recalls = [float((predicted[labels == c] == c).mean()) for c in np.unique(labels)]
    return float(np.mean(recalls)) if recalls else 0.0


def sampling_weights(labels: NDArray[np.int64], balance: float) -> NDArray[np.float64]:
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    per_class = np.where(counts > 0, np.maximum(counts, 1.0) ** -balance, 0.0)
    weights: NDArray[np.float64] = per_class[labels]
    normalised: NDArray[np.float64] = weights / weights.sum()
    return normalised


class _Trainer:
    def __init__(self, train: FrameSet, config: TrainConfig) -> None:
        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        self.config = config
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model = FrameNet(len(CLASSES), config.widths, config.blocks)
        self.images = train.images[config.size]
        self.labels = train.labels
        self.weights = sampling_weights(train.labels, config.balance)
        self.steps_per_epoch = max(1, config.samples_per_epoch // config.batch_size)
        self.total = self.steps_per_epoch * config.epochs
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=config.learning_rate, total_steps=self.total
        )

    def step(self) -> float:
        config = self.config
        index = self.rng.choice(len(self.images), size=config.batch_size, p=self.weights)
        batch = to_tensor(self.images[index])
        if config.augment:
            batch = augment(batch, self.generator)
        if self.rng.random() < config.reduced_share:
            batch = resize(batch, config.reduced_size)
        loss = F.cross_entropy(self.model(batch), torch.from_numpy(self.labels[index]))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.schedule.step()
        return float(loss.detach())


def fit(train: FrameSet, val: FrameSet, config: TrainConfig, progress: StepProgress | None = None) -> FitResult:
    """Train a FrameNet on ``train`` (frames at ``config.size``), keeping the best epoch on ``val``."""
    trainer = _Trainer(train, config)
    model = trainer.model
    val_images = val.images.get(config.size)
    result = FitResult(model, 0)
    best_score, best_state = -1.0, copy.deepcopy(model.state_dict())
    started = time.perf_counter()
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for _ in range(trainer.steps_per_epoch):
            losses.append(trainer.step())
            step += 1
            if progress:
                progress(step, trainer.total, f"epoch {epoch}/{config.epochs} loss {np.mean(losses[-20:]):.3f}")
        record = {"epoch": float(epoch), "loss": round(float(np.mean(losses)), 4)}
        score = float(epoch)  # without validation frames the last epoch is kept
        if val_images is not None and len(val.labels):
            logits = predict_logits(model, val_images)
            record["val_accuracy"] = round(float((logits.argmax(axis=1) == val.labels).mean()), 4)
            record["val_balanced_accuracy"] = score = round(balanced_accuracy(logits, val.labels), 4)
        result.history.append(record)
        if progress:
            seen = ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k != "epoch")
            progress(step, trainer.total, f"epoch {epoch}/{config.epochs}: {seen}")
        if score > best_score:
            best_score, best_state, result.best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result
