"""PyAV, imported lazily (the ``edge`` extra), and its errors translated into ``SourceError``."""

from __future__ import annotations

from typing import Any

from mlway.core.errors import DependencyMissingError
from mlway.edge.sources.base import SourceError


def av_module() -> Any:
    try:
        import av  # noqa: PLC0415 - optional, the edge extra
    except ImportError as exc:
        raise DependencyMissingError.for_extra("av", "edge") from exc
    return av


def open_container(url: str, **kwargs: Any) -> Any:
    """``av.open`` with its errors as ``SourceError`` naming the source."""
    av = av_module()
    try:
        return av.open(url, **kwargs)
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {url}: {exc}") from exc
