"""Waiting politely: exponential backoff with full jitter, and a token bucket for a bandwidth cap.

    backoff = Backoff(base_s=1, max_s=300)
    backoff.next_delay()      # uniform in [0, min(max, base * 2**failures)), then failures += 1
    backoff.reset()           # after a success

    bucket = TokenBucket(rate=5000)            # bytes per second
    bucket.delay_for(12_000)                   # seconds to wait before sending 12 kB (0 if the burst allows)

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a fleet of devices that lost
the same hub does not come back in lockstep.
"""

from __future__ import annotations

import random
import threading
import time


class Backoff:
    """Exponential backoff with full jitter; ``next_delay`` grows until ``reset``."""

    def __init__(self, base_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if base_s <= 0 or max_s < base_s:
            raise ValueError(f"backoff needs 0 < base_s <= max_s (got base_s={base_s}, max_s={max_s})")
        self.base_s = base_s
        self.max_s = max_s
        self.failures = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.max_s, self.base_s * 2.0 ** min(self.failures, 60))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class TokenBucket:
    """A byte budget refilled at ``rate`` bytes/s, holding at most ``burst`` bytes (default: one second).

    ``take(n)`` spends ``n`` bytes and returns how long to wait so that the average stays at ``rate``
    (the balance may go negative: a batch larger than the burst waits for its whole cost)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"the bandwidth limit must be positive (got {rate} bytes/s)")
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self, size: int) -> float:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= size
            return max(0.0, -self._tokens / self.rate)
