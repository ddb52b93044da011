"""``mlway bench``: load-test any OpenAI-compatible LLM server."""

from __future__ import annotations

import typer

app = typer.Typer(help="Load-test OpenAI-compatible LLM servers.", no_args_is_help=True)
