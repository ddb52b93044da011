"""Logging setup, called only by entry points (the CLI, servers)."""

from __future__ import annotations

import logging

from rich.logging import RichHandler


def configure_logging(level: str = "WARNING") -> None:
    """Send mlway's log records to stderr through rich, once per process."""
    root = logging.getLogger("mlway")
    if any(isinstance(h, RichHandler) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
