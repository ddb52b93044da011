"""A bounded accumulator for inter-token gaps (ITL), which number requests x output tokens.

Up to ``exact_limit`` gaps are kept as float32 (4 bytes each, exact to 1e-7 relative) and their
percentiles are numpy's. Past that the values are folded into a fixed log-bucket histogram (bucket
ratio 1.005: an order statistic is read by interpolating inside its bucket, so it is off by less
than the bucket's 0.5% width) and memory stops growing. Count, mean, std, min and max stay exact in both modes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mlway.bench.summary import Distribution

_F32 = npt.NDArray[np.float32]
_QUANTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_LOW = 1e-7  # seconds; gaps below fall in bucket 0 (read as the exact minimum)
_RATIO = 1.005
_LOG_RATIO = math.log(_RATIO)
_BUCKETS = math.ceil(math.log(1e5 / _LOW) / _LOG_RATIO) + 2  # up to 1e5 s, then one overflow bucket
_STAGE = 1 << 18  # values buffered between folds in histogram mode (1 MiB)


class GapAccumulator:
    """Collects gaps with bounded memory; :meth:`distribution` gives their statistics."""

    EXACT_LIMIT = 8_000_000
    """Gaps kept exactly per point (32 MiB of float32) before switching to the histogram."""

    def __init__(self, *, exact_limit: int = EXACT_LIMIT) -> None:
        self._limit = max(exact_limit, 1)
        self._buf: _F32 = np.empty(min(4096, self._limit), dtype=np.float32)
        self._n = 0
        self._hist: npt.NDArray[np.int64] | None = None
        self._count = 0  # folded values, with their exact moments (Chan et al. pairwise update)
        self._mean = 0.0
        self._m2 = 0.0
        self._min = math.inf
        self._max = -math.inf

    @property
    def count(self) -> int:
        return self._count + self._n

    @property
    def exact(self) -> bool:
        """True while every gap is held (percentiles exact); False once folded into the histogram."""
        return self._hist is None

    def add(self, values: npt.NDArray[np.floating]) -> None:
        """Append one request's gaps."""
        k = int(values.size)
        if self._n + k > self._buf.size:
            if self._hist is None and self._n + k <= self._limit:
                self._grow(self._n + k)
            else:
                self._fold(self._buf[: self._n])
                self._n = 0
                if self._buf.size > _STAGE:
                    self._buf = np.empty(_STAGE, dtype=np.float32)
                if k > self._buf.size:
                    self._fold(values.astype(np.float32))
                    return
        self._buf[self._n : self._n + k] = values
        self._n += k

    def distribution(self) -> Distribution | None:
        """Statistics of every gap added; None when there are none."""
        if self.count == 0:
            return None
        if self._hist is None:
            data = self._buf[: self._n]
            qs = [float(q) for q in np.percentile(data, _QUANTILES)]
            mean, std = float(data.mean(dtype=np.float64)), float(data.std(dtype=np.float64))
            low, high = float(data.min()), float(data.max())
        else:
            self._fold(self._buf[: self._n])
            self._n = 0
            mean, std, low, high = self._mean, math.sqrt(self._m2 / self._count), self._min, self._max
            qs = self._hist_percentiles(low, high)
        p50, p90, p95, p99, p999 = qs
        return Distribution(
            count=self.count, mean=mean, std=std, min=low, max=high,
            p50=p50, p90=p90, p95=p95, p99=p99, p999=p999,
        )  # fmt: skip

    def _grow(self, needed: int) -> None:
        size = min(max(needed, 2 * self._buf.size), self._limit)
        grown = np.empty(size, dtype=np.float32)
        grown[: self._n] = self._buf[: self._n]
        self._buf = grown

    def _fold(self, values: _F32) -> None:
        if self._hist is None:
            self._hist = np.zeros(_BUCKETS, dtype=np.int64)
        for start in range(0, values.size, _STAGE):
            self._fold_batch(values[start : start + _STAGE])

    def _fold_batch(self, batch: _F32) -> None:
        n = int(batch.size)
        if n == 0:
            return
        assert self._hist is not None
        data = batch.astype(np.float64)
        mean = float(data.mean())
        m2 = float(np.square(data - mean).sum())
        total = self._count + n
        delta = mean - self._mean
        self._m2 += m2 + delta * delta * self._count * n / total
        self._mean += delta * n / total
        self._count = total
        self._min = min(self._min, float(data.min()))
        self._max = max(self._max, float(data.max()))
        index = np.floor(np.log(np.maximum(data, _LOW / 2) / _LOW) / _LOG_RATIO).astype(np.int64) + 1
        np.clip(index, 0, _BUCKETS - 1, out=index)
        self._hist += np.bincount(index, minlength=_BUCKETS)

    def _hist_percentiles(self, low: float, high: float) -> list[float]:
        """numpy's linear method over order statistics, each read from inside its bucket."""
        assert self._hist is not None
        counts = self._hist
        cumulative = np.cumsum(counts)
        edges = _LOW * _RATIO ** (np.arange(_BUCKETS + 1, dtype=np.float64) - 1)
        edges[0] = 0.0
        lower = np.clip(edges[:-1], low, high)
        upper = np.clip(edges[1:], low, high)
        upper[-1] = high

        def order_statistic(rank: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            bucket = np.searchsorted(cumulative, rank, side="right")
            inside = (rank - (cumulative[bucket] - counts[bucket]) + 0.5) / counts[bucket]
            result: npt.NDArray[np.float64] = lower[bucket] + inside * (upper[bucket] - lower[bucket])
            return result

        ranks = np.asarray(_QUANTILES) / 100.0 * (self._count - 1)
        below, above = np.floor(ranks), np.ceil(ranks)
        at_below, at_above = order_statistic(below), order_statistic(above)
        values = np.clip(at_below + (ranks - below) * (at_above - at_below), low, high)
        return [float(v) for v in values]
