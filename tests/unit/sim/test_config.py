"""Shift parameters: bounds, and errors that name the CLI option and the fix."""

from __future__ import annotations

import pytest

from mlway.core.errors import ConfigError
from mlway.sim import ShiftConfig, parse_size


def test_defaults_are_the_issue_example() -> None:
    c = ShiftConfig()
    assert (c.machines, c.hours, c.seed, c.fps, c.width, c.height) == (3, 0.5, 7, 5.0, 320, 240)
    assert c.frame_count == 9000
    assert c.machine_ids == ["combine-01", "combine-02", "combine-03"]


def test_first_machine_numbers_the_fleet() -> None:
    assert ShiftConfig(machines=2, first_machine=4).machine_ids == ["combine-04", "combine-05"]


@pytest.mark.parametrize(
    ("values", "option"),
    [
        ({"fps": 0}, "--fps"),
        ({"machines": 0}, "--machines"),
        ({"hours": -1}, "--hours"),
        ({"failure_rate": 1.5}, "--failure-rate"),
        ({"first_machine": 0}, "--first-machine"),
        ({"codec": "vp9"}, "--codec"),
        ({"width": 321}, "--size"),
    ],
)
def test_invalid_values_name_the_option(values: dict[str, object], option: str) -> None:
    with pytest.raises(ConfigError) as err:
        ShiftConfig.build(**values)
    assert option in str(err.value)
    assert err.value.hint


def test_bounds_are_in_the_hint() -> None:
    with pytest.raises(ConfigError, match="fps") as err:
        ShiftConfig.build(fps=100)
    assert "<= 60" in str(err.value)


@pytest.mark.parametrize(
    ("text", "size"), [("320x240", (320, 240)), (" 640 X 480 ", (640, 480)), ("96\N{MULTIPLICATION SIGN}64", (96, 64))]
)
def test_parse_size(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["320", "320x", "x240", "320*240", ""])
def test_parse_size_rejects_other_forms(text: str) -> None:
    with pytest.raises(ConfigError, match="--size"):
        parse_size(text)
