"""Wake-ups at absolute deadlines on ``time.perf_counter()``, precise to tens of microseconds.

Event-loop timers have millisecond granularity (uvloop's can even fire up to ~1 ms early), so a timer
alone gives chunks up to a millisecond off. In precise mode the timer is set :data:`SPIN_WINDOW`
before the deadline and the rest is waited by re-queueing the callback on the loop, which keeps
serving I/O meanwhile. Callers compute every deadline from the previous *deadline*, never from the
time they woke up, so lateness never accumulates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

SPIN_WINDOW = 0.001
"""Seconds before a deadline at which precise mode stops sleeping and starts polling."""
PRECISE_TOLERANCE = 20e-6
"""A deadline this close counts as reached in precise mode."""
COARSE_TOLERANCE = 0.001
"""A deadline this close counts as reached when precise timing is off."""


class DeadlineTimer:
    """Calls ``callback`` once the earliest armed deadline is reached; re-arming moves it."""

    def __init__(self, callback: Callable[[], None], *, precise: bool) -> None:
        self._callback = callback
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.Handle | None = None
        self._deadline = float("inf")
        self.tolerance = PRECISE_TOLERANCE if precise else COARSE_TOLERANCE
        self._spin = SPIN_WINDOW if precise else 0.0

    def arm(self, deadline: float) -> None:
        """Fire at ``deadline`` unless an earlier deadline is already armed."""
        if deadline < self._deadline:
            self.cancel()
            self._deadline = deadline
            self._schedule(deadline - time.perf_counter())

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._deadline = float("inf")

    def _schedule(self, remaining: float) -> None:
        if remaining <= self._spin:
            self._handle = self._loop.call_soon(self._wake)
        else:
            self._handle = self._loop.call_later(remaining - self._spin, self._wake)

    def _wake(self) -> None:
        remaining = self._deadline - time.perf_counter()
        if remaining > self.tolerance:
            self._schedule(remaining)
            return
        self._handle = None
        self._deadline = float("inf")
        self._callback()
