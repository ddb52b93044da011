"""`mlway curate train` end to end on a short simulated shift: a bundle the runtime accepts, and clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # --import-mode=importlib puts no test dir on sys.path
    sys.path.insert(0, _HERE)

from conftest import mlway  # noqa: E402

TINY = ["--epochs", "1", "--samples-per-epoch", "128", "--batch-size", "32", "--min-class-frames", "5"]


def test_a_tiny_training_run_writes_a_bundle_that_the_runtime_accepts(unloading_shift: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "cam"
    done = mlway("curate", "train", str(unloading_shift), "--out", str(out), *TINY, "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "trained on combine-01; validated on combine-02 (unseen camera poses)" in done.stdout
    assert "validation ECE" in done.stdout
    assert "epoch 1/1: loss" in done.stderr  # progress is visible in a log, not only on a terminal
    assert "val_balanced_accuracy" in done.stderr
    inspected = mlway("runtime", "inspect", str(out), "--json")
    assert inspected.returncode == 0, inspected.stderr
    doc = json.loads(inspected.stdout)
    manifest = doc["manifest"]
    assert [v["name"] for v in manifest["variants"]] == ["fp32", "int8", "int8-80x60"]
    assert manifest["labels"] == ["idle", "harvesting", "unloading", "unloading_failure"]
    assert [o["name"] for o in manifest["outputs"]] == ["probs", "logits"]
    assert manifest["preprocessing"]["scale"] == pytest.approx(1 / 255)
    assert all(check == {"files": [], "refused": None} for check in doc["checks"].values())
    for variant in manifest["variants"]:
        assert 0.0 <= variant["metrics"]["val_accuracy"] <= 1.0
        assert variant["memory_bytes"] > 0
        assert {m["threads"] for m in variant["measurements"]} == {1}
    assert manifest["variants"][2]["input_shapes"] == {"image": ["batch", 3, 60, 80]}
    report = json.loads((out / "training.json").read_text())
    assert report["train_machines"] == ["combine-01"]
    assert report["temperature"] > 0
    assert report["nll_after"] <= report["nll_before"]  # the temperature minimises NLL on the validation frames
    assert 0.0 <= report["ece_after"] <= 1.0
    size = sum(p.stat().st_size for p in out.iterdir())
    assert size < 10 * 1024**2


def test_a_class_missing_from_the_training_machines_is_an_error_naming_it(idle_shift: Path, tmp_path: Path) -> None:
    done = mlway("curate", "train", str(idle_shift), "--out", str(tmp_path / "m"), *TINY)
    assert done.returncode == 2
    assert "unloading_failure" in done.stderr
    assert "have no frames in the training machines (combine-01)" in done.stderr
    assert "frames per class: idle" in done.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--size", "big"], "invalid --size 'big'"),
        (["--epochs", "0"], "invalid --epochs 0"),
        (["--val-machines", "combine-77"], "validation machine(s) ['combine-77'] are not in the shifts"),
    ],
)
def test_invalid_arguments_are_clear_errors(idle_shift: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    done = mlway("curate", "train", str(idle_shift), "--out", str(tmp_path / "m"), *args)
    assert done.returncode == 2
    assert needle in done.stderr


def test_missing_shift_and_unwritable_output_are_clear_errors(idle_shift: Path, tmp_path: Path) -> None:
    done = mlway("curate", "train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m"))
    assert done.returncode == 2
    assert "not a directory" in done.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = mlway("curate", "train", str(idle_shift), "--out", str(blocker))
    assert done.returncode == 2
    assert "is a file" in done.stderr
    done = mlway("curate", "train", str(idle_shift), "--out", str(blocker / "under"))
    assert done.returncode == 2
    assert "is a file" in done.stderr
    done = mlway("curate", "train", str(idle_shift), "--out", "/proc/mlway-nowhere/model")
    assert done.returncode == 2
    assert "cannot write to /proc/mlway-nowhere/model: /proc is not writable" in done.stderr
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    done = mlway("curate", "train", str(idle_shift), "--out", str(taken))
    assert done.returncode == 2
    assert "--overwrite" in done.stderr
