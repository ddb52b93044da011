"""``mlway demo``: the field-to-cloud run on embedded defaults (mlway's main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlway.core.errors import MlwayError


def demo(
    out: Annotated[Path, typer.Option(help="Run directory (replaced on every run): shift, hub.db, edge state.")] = Path(
        "mlway-field"
    ),
    hours: Annotated[float, typer.Option(help="Length of the simulated shift.")] = 0.3,
    machines: Annotated[int, typer.Option(help="Combines, one edge agent each.")] = 1,
    seed: Annotated[int, typer.Option(help="Shift seed (301 and up: shifts the bundled model never saw).")] = 301,
    link: Annotated[str, typer.Option(help="Link profile: 2g or perfect.")] = "2g",
) -> None:
    """Simulate a shift, start a hub, run the edge agent with the bundled model through a 2G link that goes
    down and up; print the event timeline, what reached the hub, and event precision/recall vs the truth."""
    from pydantic import ValidationError  # noqa: PLC0415 - keep `mlway --help` fast

    from mlway.core.errors import ConfigError  # noqa: PLC0415
    from mlway.fieldrun import FieldRunConfig, deliveries, render, run_field  # noqa: PLC0415

    console = Console()
    try:
        config = FieldRunConfig.model_validate({"out": out, "hours": hours, "machines": machines, "seed": seed,
                                                "link": link})  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise ConfigError(f"--{where.replace('_', '-')}: {first['msg']}", hint="see `mlway demo --help`") from exc
    result = run_field(config, progress=lambda line: console.print(f"[dim]{line}[/dim]"))
    render(result, console)
    if not all(d.exact for d in deliveries(result)):
        raise MlwayError("the hub does not hold exactly the records the agents confirmed (see the table above)")
