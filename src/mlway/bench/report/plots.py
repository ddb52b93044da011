"""Plots as inline SVG text: matplotlib figures rendered without pyplot or a global backend.

Fonts are drawn as paths and nothing is linked, so a page holding these SVGs reads offline.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlway.core.errors import DependencyMissingError

_CDF_POINTS = 400
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass
class Series:
    """One line: ``ys`` over ``xs``, with optional per-point notes written beside the markers."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    dashed: bool = False
    notes: Sequence[str] = field(default_factory=list)
    color: str | None = None


def _figure(width: float = 6.4, height: float = 3.6, rows: int = 1) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 - heavy, only for HTML reports
    except ImportError as exc:
        raise DependencyMissingError.for_extra("matplotlib", "bench") from exc
    fig = Figure(figsize=(width, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, 1, row + 1) for row in range(rows)]
    for ax in axes:
        ax.grid(visible=True, alpha=0.3)
    return fig, axes


def to_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), ready to inline in HTML."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    # An HTML parser puts inline <svg> in the SVG namespace (and maps xlink:href) by itself; dropping
    # the declarations leaves the page without a single URL.
    return _NAMESPACES.sub("", svg, count=2)


def _draw(ax: Any, series: Sequence[Series], *, markers: bool = True) -> None:
    for line in series:
        ax.plot(
            line.xs, line.ys, marker="o" if markers else "", markersize=4, linestyle="--" if line.dashed else "-",
            label=line.label, color=line.color,
        )  # fmt: skip
        for x, y, note in zip(line.xs, line.ys, line.notes, strict=False):
            ax.annotate(note, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if any(line.label for line in series):
        ax.legend(fontsize=8)


def line_plot(title: str, xlabel: str, ylabel: str, series: Sequence[Series], *, xlog: bool = False) -> str:
    """Lines over a shared x axis (load, throughput) as SVG; a label starting with "_" stays out of the legend."""
    fig, (ax,) = _figure()
    _draw(ax, series)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xlog:
        ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    return to_svg(fig)


def cdf_plot(title: str, xlabel: str, curves: Sequence[tuple[str, npt.NDArray[np.float64]]]) -> str:
    """Empirical CDFs, one line per curve; each drawn through at most a few hundred quantiles."""
    fig, (ax,) = _figure()
    for label, values in curves:
        if values.size == 0:
            continue
        probabilities = np.linspace(0.0, 1.0, min(values.size, _CDF_POINTS))
        ax.plot(np.quantile(values, probabilities), probabilities, label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return to_svg(fig)


def panels_plot(title: str, xlabel: str, panels: Sequence[tuple[str, Sequence[Series]]]) -> str:
    """Stacked plots sharing the x axis (e.g. server queue depth and KV-cache use over time)."""
    fig, axes = _figure(height=2.4, rows=len(panels))
    for ax, (ylabel, series) in zip(axes, panels, strict=True):
        _draw(ax, series, markers=False)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel(xlabel)
    return to_svg(fig)
