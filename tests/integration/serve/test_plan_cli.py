"""``mlway serve plan``: the dry run of admission for a 6 GiB and an 8 GiB budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlway.cli.app import app
from mlway.runtime.testing import write_bundle

GIB = 1024**3


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two models whose fp32 variants need 3.5 GiB each (measured), their int8 variants 1 GiB."""
    root = tmp_path_factory.mktemp("plan") / "models"
    sizes = {"fp32": int(3.5 * GIB), "int8": GIB}
    write_bundle(root / "detector", name="detector", memory="4GiB", priority=10, memory_bytes=sizes)
    write_bundle(root / "embedder", name="embedder", memory="4GiB", memory_bytes=sizes)
    return root


def _plan(models: Path, budget: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["serve", "plan", str(models), "--memory-budget", budget, "--cpus", "2", "--json"])
    assert result.exit_code == 0, result.output
    return {m["model"]: m for m in json.loads(result.output)["models"]}


def test_6gib_serves_the_lower_priority_model_from_its_fallback_variant(models: Path) -> None:
    plan = _plan(models, "6GiB")
    assert plan["detector"]["variant"] == "fp32"  # type: ignore[index]
    assert plan["embedder"]["variant"] == "int8"  # type: ignore[index]
    assert (
        "fp32 needs 3.50 GiB (measured) but only 2.50 GiB of the 6.00 GiB budget is free" in plan["embedder"]["reason"]
    )  # type: ignore[index,operator]


def test_8gib_serves_both_full_variants(models: Path) -> None:
    plan = _plan(models, "8GiB")
    assert plan["detector"]["variant"] == "fp32"  # type: ignore[index]
    assert plan["embedder"]["variant"] == "fp32"  # type: ignore[index]


def test_the_table_says_what_falls_back_and_why(models: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "plan", str(models), "--memory-budget", "6GiB", "--cpus", "2"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 model(s) would serve" in result.output
    assert "embedder: falls back to int8: int8: fp32 needs 3.50 GiB (measured)" in result.output
    full = CliRunner().invoke(
        app, ["serve", "plan", str(models), "--memory-budget", "8GiB", "--cpus", "2"], env={"COLUMNS": "200"}
    )
    assert "falls back" not in full.output


def test_the_default_command_is_run(models: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "plan" in result.output
    assert "build-minilm" in result.output
    bad = CliRunner().invoke(app, ["serve", str(models / "nowhere"), "--port", "0"])
    assert bad.exit_code != 0
    assert "no models directory" in str(bad.exception) or "no models directory" in bad.output
