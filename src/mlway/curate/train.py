"""``train(shifts, out)``: labelled frames of recorded shifts -> a calibrated classifier -> a runtime bundle.

read      decode the shifts' videos (every ``frame_step``-th frame), map labels, resize to the input size
split     held-out machines (unseen camera poses) validate; the others train
check     a class missing or with too few frames is an error naming the class and the counts
fit       a narrow ResNet (mlway.curate.model), best epoch on validation balanced accuracy
calibrate temperature scaling on the validation logits (ECE before and after)
export    fp32 ONNX with the temperature baked in; int8 static QDQ calibrated on training frames
smooth    one smoothing setting (mlway.core.smoothing) with the best worst event F1 over every variant's
          validation scores, so the reduced variant gets no spurious events either
package   bundle with variants fp32, int8, int8 at the reduced size, each with validation metrics,
          measured latency and memory (mlway.runtime.measure_bundle); training.json beside it
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlway.core.errors import InputError
from mlway.core.smoothing import SmoothingConfig
from mlway.curate.config import TrainConfig
from mlway.curate.dataset import (
    CLASSES,
    LABEL_MAP,
    FrameSet,
    check_classes,
    load_frames,
    shift_machines,
    split_machines,
)
from mlway.runtime import Bundle, load_bundle

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, str], None]
"""(phase, done, total, status line)."""

REPORT = "training.json"
SMOOTHING = "smoothing.json"
"""The smoothing settings chosen on the validation machines: ``SmoothingConfig.model_validate_json(text)``."""


@dataclass
class TrainReport:
    """What a training run did and how good the result is (also written to ``<out>/training.json``)."""

    bundle: str
    config: dict[str, Any]
    shifts: list[str]
    train_machines: list[str]
    validation_machines: list[str]
    train_counts: dict[str, int]
    validation_counts: dict[str, int]
    label_map: dict[str, str]
    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float  # what temperature scaling minimises: never higher after (ECE can be, for a weak model)
    nll_after: float
    best_epoch: int
    history: list[dict[str, float]]
    variants: dict[str, dict[str, float]]
    smoothing: dict[str, Any]
    validation_events: dict[str, dict[str, dict[str, float]]]  # variant -> event class -> scores
    seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    machine: str = ""
    created_at: str = ""


def _check_output(out: Path, overwrite: bool) -> None:
    """Before training: refuse an output that is a file, is not empty (without ``overwrite``) or is unwritable."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file", hint="give a directory for the bundle")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty", hint="choose a new directory or pass --overwrite")
    parent = out if out.is_dir() else next((p for p in out.absolute().parents if p.exists()), Path("/"))
    if not parent.is_dir():
        raise InputError(f"cannot write to {out}: {parent} is a file", hint="choose a path under a directory")
    try:  # a real probe: permission bits say nothing for root or read-only file systems
        with tempfile.TemporaryDirectory(dir=parent, prefix=".mlway-probe-"):
            pass
    except OSError as exc:
        raise InputError(
            f"cannot write to {out}: {parent} is not writable ({exc.strerror})",
            hint="choose a directory you can write, e.g. models/harvest-cam",
        ) from exc


def _check_shifts(shifts: Sequence[Path]) -> list[Path]:
    if not shifts:
        raise InputError("no shift directories given", hint="e.g. mlway curate train data/shifts/* --out models/x")
    roots = [Path(s) for s in shifts]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise InputError(f"not a directory: {', '.join(missing)}", hint="give shift directories of `mlway sim shift`")
    return roots


def _calibration_frames(train: FrameSet, config: TrainConfig) -> np.ndarray:
    """Up to ``calibration_frames`` training frames, drawn evenly from every class."""
    rng = np.random.default_rng(config.seed + 1)
    per_class = max(1, config.calibration_frames // len(CLASSES))
    picks = [
        rng.choice(
            np.flatnonzero(train.labels == c), size=min(per_class, int((train.labels == c).sum())), replace=False
        )
        for c in range(len(CLASSES))
        if (train.labels == c).any()
    ]
    images = train.images[config.size][np.concatenate(picks)]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), np.float32) / np.float32(255.0)


def _read(roots: list[Path], config: TrainConfig, tell: Callable[[str], Callable[[int, int], None]]) -> _Data:
    train_ids, val_ids = split_machines(shift_machines(roots), config.validation_machines, config.val_fraction)
    step = config.frame_step
    train_set = load_frames(roots, [config.size], step=step, machines=set(train_ids), progress=tell("read train"))
    where = f"training machines ({', '.join(train_ids)})"
    warnings = check_classes(train_set.counts(), where=where, minimum=config.min_class_frames, strict=True)
    sizes = [config.size, config.reduced_size]
    val_set = load_frames(roots, sizes, step=step, machines=set(val_ids), progress=tell("read val"))
    where = f"validation machines ({', '.join(val_ids)})"
    warnings += check_classes(val_set.counts(), where=where, minimum=config.min_class_frames, strict=False)
    return _Data(train_ids, val_ids, train_set, val_set, warnings)


@dataclass
class _Data:
    train_ids: list[str]
    val_ids: list[str]
    train: FrameSet
    val: FrameSet
    warnings: list[str]


def _variants(
    stage: Path, model: Any, temperature: float, data: _Data, config: TrainConfig
) -> tuple[list[Any], dict[str, np.ndarray]]:
    """Export fp32 and int8; each variant's plan with its quality on the validation machines, and its probabilities."""
    from mlway.curate.export import export_onnx, quantize_int8  # noqa: PLC0415 - torch and onnx
    from mlway.curate.inference import predict  # noqa: PLC0415
    from mlway.curate.metrics import frame_metrics  # noqa: PLC0415
    from mlway.curate.package import VariantPlan  # noqa: PLC0415

    fp32 = export_onnx(model, temperature, stage / "fp32.onnx", config.size)
    int8 = quantize_int8(fp32, stage / "int8.onnx", _calibration_frames(data.train, config))
    reduced = f"int8-{config.reduced_width}x{config.reduced_height}"
    plans, scores = [], {}
    for name, path, size in [
        ("fp32", fp32, config.size),
        ("int8", int8, config.size),
        (reduced, int8, config.reduced_size),
    ]:
        probs = predict(path, data.val.images[size], threads=config.threads)
        metrics = frame_metrics(probs, data.val.labels, CLASSES).flat("val_")
        plans.append(VariantPlan(name, path.name, size, metrics, _describe(name, size)))
        scores[name] = probs
    return plans, scores


def _smoothing(
    roots: list[Path], data: _Data, scores: dict[str, np.ndarray], progress: Callable[[int, int], None]
) -> tuple[SmoothingConfig, dict[str, dict[str, dict[str, float]]]]:
    """One smoothing setting with the best worst event F1 over every variant on the validation machines,
    and the event scores each variant reaches there with it."""
    from mlway.curate import evaluate  # noqa: PLC0415

    variants = {
        name: evaluate.streams_of(data.val, probs, np.log(np.clip(probs, 1e-12, 1.0))) for name, probs in scores.items()
    }
    truth = evaluate.truth_spans(roots, set(data.val_ids))
    config, _ = evaluate.tune_smoothing(list(variants.values()), truth, evaluate.SMOOTHING_GRID, progress=progress)
    events = {
        name: evaluate.score_table(evaluate.event_scores(evaluate.predicted_spans(streams, config), truth))
        for name, streams in variants.items()
    }
    return config, events


def train(
    shifts: Sequence[Path],
    out: Path,
    config: TrainConfig | None = None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> tuple[Bundle, TrainReport]:
    """Train, calibrate, export and package; see the module docstring. Needs the ``curate`` extra."""
    from mlway.curate import fit as fitting  # noqa: PLC0415 - torch loads only when training
    from mlway.curate.calibration import ece, fit_temperature, nll, softmax  # noqa: PLC0415
    from mlway.curate.package import measure, write_bundle  # noqa: PLC0415

    config = config or TrainConfig()
    roots = _check_shifts(shifts)
    _check_output(out, overwrite)
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def tell(phase: str) -> Callable[[int, int], None]:
        return lambda done, total: progress(phase, done, total, "") if progress else None

    def told(phase: str) -> Callable[[int, int, str], None]:
        return lambda done, total, line: progress(phase, done, total, line) if progress else None

    data = _read(roots, config, tell)
    seconds["read"] = time.perf_counter() - started
    fitted = fitting.fit(data.train, data.val, config, progress=told("train"))
    seconds["train"] = fitted.seconds
    mark = time.perf_counter()
    logits = fitting.predict_logits(fitted.model, data.val.images[config.size])
    temperature = fit_temperature(logits, data.val.labels)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as scratch:
        stage = Path(scratch) / "bundle"
        told("export")(0, 1, "ONNX fp32 and int8 (static QDQ), validation of each variant")
        plans, scores = _variants(stage, fitted.model, temperature, data, config)
        seconds["export"] = time.perf_counter() - mark
        mark = time.perf_counter()
        smoothing, events = _smoothing(roots, data, scores, tell("smoothing"))
        seconds["smoothing"] = time.perf_counter() - mark
        mark = time.perf_counter()
        bundle = write_bundle(stage, name=config.name, version=config.version, full=config.size, variants=plans,
                              description=_bundle_description(temperature))  # fmt: skip
        if config.measure:
            threads = [1, 2] if config.threads > 1 else [1]
            bundle = measure(bundle, threads, progress=lambda line: told("measure")(0, 1, line))
        seconds["measure"] = time.perf_counter() - mark
        seconds["total"] = time.perf_counter() - started
        report = TrainReport(
            bundle=str(out),
            config=config.model_dump(),
            shifts=[str(r) for r in roots],
            train_machines=data.train_ids,
            validation_machines=data.val_ids,
            train_counts=data.train.counts(),
            validation_counts=data.val.counts(),
            label_map=dict(LABEL_MAP),
            temperature=temperature,
            ece_before=round(ece(softmax(logits), data.val.labels), 4),
            ece_after=round(ece(softmax(logits, temperature), data.val.labels), 4),
            nll_before=round(nll(logits, data.val.labels), 4),
            nll_after=round(nll(logits, data.val.labels, temperature), 4),
            best_epoch=fitted.best_epoch,
            history=fitted.history,
            variants={p.name: dict(p.metrics) for p in plans},
            smoothing=smoothing.model_dump(),
            validation_events=events,
            seconds={k: round(v, 1) for k, v in seconds.items()},
            warnings=data.warnings,
            machine=f"{platform.machine()} {os.cpu_count()} cpus",
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        )
        (stage / REPORT).write_text(json.dumps(asdict(report), indent=1) + "\n")
        (stage / SMOOTHING).write_text(smoothing.model_dump_json(indent=1) + "\n")
        _install(stage, out)
    return load_bundle(out), report


def _install(stage: Path, out: Path) -> None:
    """Put the finished bundle at ``out`` (replacing an earlier one only now that the new one is complete)."""
    try:
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(stage, out)
    except OSError as exc:
        raise InputError(f"cannot write the bundle to {out}: {exc}", hint="choose a directory you can write") from exc


def _describe(name: str, size: tuple[int, int]) -> str:
    precision = "fp32" if name == "fp32" else "int8 static QDQ (per-channel weights, uint8 activations)"
    return f"{precision} at {size[0]}x{size[1]}"


def _bundle_description(temperature: float) -> str:
    return (
        "Per-frame classifier of combine-harvester camera frames (header and auger cameras): idle, harvesting, "
        "unloading, unloading_failure. A narrow ResNet trained on simulated shifts (mlway curate train). "
        f"Outputs: probs = softmax(logits), calibrated by temperature scaling (T={temperature:g}, already applied); "
        "logits are already divided by T. Input: RGB frame resized (stretch) to the variant's size, pixel / 255. "
        "Per-frame scores are meant to be smoothed over several frames (mlway.core.smoothing)."
    )
