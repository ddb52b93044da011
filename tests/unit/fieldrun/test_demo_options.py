"""`mlway demo` rejects bad options before it simulates anything, naming the option and what it takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlway.cli.app import app
from mlway.core.errors import ConfigError


def test_an_unknown_link_profile_is_named_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--link: Input should be '2g' or 'perfect'") as info:
        app(["demo", "--out", str(tmp_path / "run"), "--link", "5g"], standalone_mode=False)
    assert info.value.exit_code == 2
    assert not (tmp_path / "run").exists()  # nothing was simulated or written


def test_a_shift_too_long_for_a_demo_names_its_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--hours: Input should be less than or equal to 4"):
        app(["demo", "--out", str(tmp_path / "run"), "--hours", "9"], standalone_mode=False)
