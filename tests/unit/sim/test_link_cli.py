"""`mlway sim link` option checking, in process: every bad value is an InputError naming the option and the fix."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlway.cli.sim import app
from mlway.core.errors import InputError


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency", "1s-300ms"], "invalid latency '1s-300ms'"),
        (["--latency", "soon"], "invalid latency 'soon'"),
        (["--schedule", "30s-down,60s-up"], "invalid schedule"),
        (["--schedule", "60s-up"], "ends with an up period"),
        (["--profile", "3g"], "unknown link profile '3g'"),
        (["--kbps", "0"], "invalid --kbps 0"),
        (["--reset-rate", "1.5"], "invalid --reset-rate 1.5"),
        (["--stall-rate", "-0.1"], "invalid --stall-rate -0.1"),
        (["--down-mode", "drop"], "invalid --down-mode 'drop'"),
        (["--listen", "8701"], "invalid --listen '8701'"),
        (["--to", "127.0.0.1:http"], "invalid --to '127.0.0.1:http'"),
        (["--to", "127.0.0.1:70000"], "invalid --to"),
        (["--duration", "forever"], "invalid --duration 'forever'"),
    ],
)
def test_bad_values_name_the_option_and_the_fix(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["link", "--listen", "127.0.0.1:0", *args])
    assert isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)
    assert result.exception.hint
