"""The public API of mlway.curate and mlway.assets is their __init__; pin it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import mlway.assets
import mlway.curate
from mlway.core import NotFoundError
from mlway.curate import TrainConfig


def test_exported_names_are_pinned() -> None:
    assert sorted(mlway.curate.__all__) == sorted(
        ["CLASSES", "LABEL_MAP", "FrameSet", "TrainConfig", "TrainReport", "load_frames", "train"]
    )
    assert sorted(mlway.assets.__all__) == ["bundled_model_path", "bundled_models"]
    for module in (mlway.curate, mlway.assets):
        for name in module.__all__:
            assert hasattr(module, name)


def test_unknown_bundled_model_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="no bundled model 'nope'"):
        mlway.assets.bundled_model_path("nope")


def test_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ValidationError, match="one entry per stage"):
        TrainConfig(widths=[16, 32], blocks=[1])
    with pytest.raises(ValidationError, match="must be smaller"):
        TrainConfig(width=64, height=48, reduced_width=80, reduced_height=60)
    with pytest.raises(ValidationError):
        TrainConfig(epochs=0)
    assert TrainConfig().size == (128, 96)
