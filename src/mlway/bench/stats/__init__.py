"""Statistics of bench load points: :func:`summarize` records into a PointSummary.

Every metric's definition is in :data:`FORMULAS`, which reports print.
"""

from mlway.bench.stats.formulas import FORMULAS, PERCENTILES
from mlway.bench.stats.gaps import GapAccumulator
from mlway.bench.stats.point import distribution, summarize

__all__ = ["FORMULAS", "PERCENTILES", "GapAccumulator", "distribution", "summarize"]
