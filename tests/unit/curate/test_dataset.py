"""Splitting by machine, label mapping and the class checks that stop a silent bad model."""

from __future__ import annotations

import logging

import pytest

from mlway.core import InputError
from mlway.curate import CLASSES, LABEL_MAP
from mlway.curate.dataset import check_classes, split_machines


def test_classes_and_label_map() -> None:
    assert CLASSES == ("idle", "harvesting", "unloading", "unloading_failure")
    assert all(LABEL_MAP[c] == c for c in CLASSES)
    assert LABEL_MAP["turning"] == "idle"
    assert LABEL_MAP["stop"] == "idle"


def test_the_last_machines_validate_by_default() -> None:
    machines = [f"combine-{i:02d}" for i in range(1, 12)]
    train, held = split_machines(machines, None, 0.25)
    assert held == ["combine-09", "combine-10", "combine-11"]
    assert train == machines[:8]
    assert split_machines(["combine-01", "combine-02"], None, 0.25) == (["combine-01"], ["combine-02"])


def test_named_validation_machines() -> None:
    train, held = split_machines(["combine-01", "combine-02", "combine-03"], ["combine-01"], 0.25)
    assert (train, held) == (["combine-02", "combine-03"], ["combine-01"])
    with pytest.raises(InputError, match="combine-09"):
        split_machines(["combine-01", "combine-02"], ["combine-09"], 0.25)
    with pytest.raises(InputError, match="leave at least one"):
        split_machines(["combine-01", "combine-02"], ["combine-01", "combine-02"], 0.25)


def test_one_machine_cannot_validate_on_unseen_poses() -> None:
    with pytest.raises(InputError, match="at least two") as info:
        split_machines(["combine-01"], None, 0.25)
    assert "--machines" in str(info.value)


def test_a_missing_class_is_an_error_naming_it_and_the_counts() -> None:
    counts = {"idle": 900, "harvesting": 500, "unloading": 120, "unloading_failure": 0}
    with pytest.raises(InputError) as info:
        check_classes(counts, where="training machines (combine-01)", minimum=20, strict=True)
    text = str(info.value)
    assert "unloading_failure have no frames in the training machines (combine-01)" in text
    assert "idle 900, harvesting 500, unloading 120, unloading_failure 0" in text
    assert "--failure-rate" in text


def test_too_few_frames_is_an_error_in_training_and_a_warning_in_validation(caplog: pytest.LogCaptureFixture) -> None:
    counts = {"idle": 900, "harvesting": 500, "unloading": 120, "unloading_failure": 7}
    with pytest.raises(InputError, match="fewer than 20 frames"):
        check_classes(counts, where="training machines", minimum=20, strict=True)
    with caplog.at_level(logging.INFO, logger="mlway.curate"):
        warnings = check_classes(counts, where="validation machines", minimum=20, strict=False)
    assert len(warnings) == 1
    assert "unloading_failure have fewer than 20 frames in the validation machines" in warnings[0]
    assert check_classes(counts, where="training machines", minimum=5, strict=True) == []
