"""The root ``mlway`` command and the mapping of errors to exit codes."""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape

from mlway import __version__
from mlway.cli import bench, curate, demo, edge, hub, plan, runtime, serve, sim
from mlway.core.errors import MlwayError
from mlway.core.logging import configure_logging

app = typer.Typer(
    name="mlway",
    help="Run ML in production: plan hardware, benchmark LLM servers, serve, edge, hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(bench.app, name="bench")
app.add_typer(plan.app, name="plan")
app.add_typer(sim.app, name="sim")
app.add_typer(runtime.app, name="runtime")
app.add_typer(curate.app, name="curate")
app.add_typer(serve.app, name="serve")
app.add_typer(edge.app, name="edge")
app.add_typer(hub.app, name="hub")
app.command(name="demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlway {__version__}")
        raise typer.Exit


@app.callback()
def root(
    version: Annotated[  # noqa: ARG001 - handled eagerly by _version
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level: DEBUG, INFO, WARNING, ERROR.")] = "WARNING",
) -> None:
    """mlway: the engineering that takes a model to production and keeps it running."""
    configure_logging(log_level)


def main() -> None:
    """Entry point: run the app, turning mlway errors into a message and an exit code."""
    try:
        app(standalone_mode=False)
    except MlwayError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, EOFError):
        sys.exit(1)
