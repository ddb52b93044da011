"""``mlway curate``: train the per-frame classifier on recorded shifts and package it as a model bundle."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlway.core.errors import ConfigError, DependencyMissingError, InputError

app = typer.Typer(help="Curate data and train models: from recorded shifts to a model bundle.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _curate() -> ModuleType:
    try:
        from mlway import curate  # noqa: PLC0415 - numpy, PyAV and OpenCV load only for curate commands
        from mlway.curate import fit  # noqa: F401, PLC0415 - fail early when torch is missing
    except ImportError as exc:
        raise DependencyMissingError.for_extra(exc.name or "torch", "curate") from exc
    return curate


def _size(text: str, option: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"invalid {option} {text!r}", hint="give WIDTHxHEIGHT, e.g. 128x96")
    return int(parts[0]), int(parts[1])


def _config(curate: ModuleType, **values: Any) -> Any:
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return curate.TrainConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "config"
        option = "--" + field.replace("_", "-")
        raise ConfigError(f"invalid {option} {first.get('input')!r}: {first['msg']}") from exc


class _Bars:
    """One rich progress bar per phase (reading, training, export, measuring)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int, line: str) -> None:
        if not self.progress.console.is_terminal:  # no live bars in a log: print each phase and epoch once
            if phase not in self.tasks:
                self.progress.console.print(f"{phase} ({total:,})" if total > 1 else phase)
            if line and (phase != "train" or ": " in line):
                self.progress.console.print(f"  {line}")
        if phase not in self.tasks:
            for other in self.tasks.values():
                task = self.progress.tasks[other]
                self.progress.update(other, completed=task.total)
            self.tasks[phase] = self.progress.add_task(phase, total=max(total, 1), status="")
        self.progress.update(self.tasks[phase], completed=done, total=max(total, 1), status=line)


def _print(report: Any, bundle: Any, elapsed: float) -> None:
    trained, held = ", ".join(report.train_machines), ", ".join(report.validation_machines)
    console.print(
        f"wrote [bold]{escape(str(bundle.directory))}[/] ({bundle.name} {bundle.manifest.version}) "
        f"in {elapsed / 60:.1f} min: trained on {trained}; validated on {held} (unseen camera poses)"
    )
    console.print("training frames: " + ", ".join(f"{k} {v}" for k, v in report.train_counts.items()))
    console.print(
        f"temperature {report.temperature:g}: validation ECE {report.ece_before:.3f} before, "
        f"{report.ece_after:.3f} after (best epoch {report.best_epoch})"
    )
    table = Table(title="variants (validation machines)", title_justify="left")
    for column in ("variant", "accuracy", "ECE", "recall unloading", "recall failure", "size", "speed (1 thread)"):
        table.add_column(column)
    for variant in bundle.manifest.variants:
        m = variant.metrics
        size = sum(f.bytes or 0 for f in variant.files) / 1024**2
        speed = next((f"{x.throughput_per_s:,.0f} frames/s" for x in variant.measurements if x.threads == 1), "-")
        table.add_row(
            variant.name,
            f"{m.get('val_accuracy', 0):.3f}",
            f"{m.get('val_ece', 0):.3f}",
            f"{m.get('val_recall_unloading', 0):.3f}",
            f"{m.get('val_recall_unloading_failure', 0):.3f}",
            f"{size:.2f} MiB",
            speed,
        )
    console.print(table)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


@app.command()
def train(
    shifts: Annotated[list[Path], typer.Argument(help="Shift directories written by `mlway sim shift`.")],
    out: Annotated[Path, typer.Option(help="Directory to write the bundle into.")] = Path("models/harvest-cam"),
    name: Annotated[str, typer.Option(help="Bundle (model) name.")] = "harvest-cam",
    version: Annotated[str, typer.Option(help="Bundle version.")] = "1.0.0",
    size: Annotated[str, typer.Option(help="Full input size WIDTHxHEIGHT.")] = "128x96",
    reduced_size: Annotated[str, typer.Option(help="Input size of the reduced variant.")] = "80x60",
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 8,
    samples_per_epoch: Annotated[int, typer.Option(help="Frames drawn (class-balanced) per epoch.")] = 8000,
    batch_size: Annotated[int, typer.Option(help="Frames per step.")] = 64,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    frame_step: Annotated[int, typer.Option(help="Use every n-th frame of the videos.")] = 1,
    val_machines: Annotated[
        str, typer.Option(help="Comma-separated machines held out for validation; default: the last quarter.")
    ] = "",
    min_class_frames: Annotated[int, typer.Option(help="Fewer training frames of a class is an error.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of weights, sampling and augmentation.")] = 0,
    threads: Annotated[int, typer.Option(help="Torch and onnxruntime threads.")] = 2,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="Train without augmentation.")] = False,
    no_measure: Annotated[
        bool, typer.Option("--no-measure", help="Skip measuring latency and memory of each variant.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing bundle in --out.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the training report as JSON.")] = False,
) -> None:
    """Train the per-frame classifier on simulated shifts; write a bundle with fp32, int8 and reduced variants."""
    import time  # noqa: PLC0415

    curate = _curate()
    width, height = _size(size, "--size")
    reduced_width, reduced_height = _size(reduced_size, "--reduced-size")
    config = _config(curate, name=name, version=version, width=width, height=height, reduced_width=reduced_width,
                     reduced_height=reduced_height, epochs=epochs, samples_per_epoch=samples_per_epoch,
                     batch_size=batch_size, learning_rate=learning_rate, frame_step=frame_step,
                     validation_machines=[m.strip() for m in val_machines.split(",") if m.strip()],
                     min_class_frames=min_class_frames, seed=seed, threads=threads, augment=not no_augment,
                     measure=not no_measure)  # fmt: skip
    columns = (TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))  # fmt: skip
    started = time.perf_counter()
    with Progress(*columns, console=err, transient=False) as progress:
        bundle, report = curate.train(shifts, out, config, overwrite=overwrite, progress=_Bars(progress))
    if json_out:
        typer.echo(json.dumps(asdict(report), indent=1))
        return
    _print(report, bundle, time.perf_counter() - started)
