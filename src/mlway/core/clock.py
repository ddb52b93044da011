"""Clocks of a device that may boot at 1970: wall time, monotonic time and the boot id, read together.

    stamp = Stamp.now()             # Stamp(wall=1795000000.1, mono=1234.5, boot_id='9f1c...', trusted=True)
    stamp.trusted                   # False while the wall clock is obviously unset (before MIN_TRUSTED_WALL)

Boards without a real-time clock start at 1970 until NTP, GPS or the hub sets them. Every record an
edge device writes therefore carries the monotonic time and the boot id next to the wall time: within
one boot, monotonic differences are exact, and the hub can re-anchor a boot's records once it learns
the offset between that boot's monotonic clock and true time (``Stamp.rebased``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MIN_TRUSTED_WALL = 1_735_689_600.0
"""2025-01-01T00:00:00Z: a wall clock before this is unset (mlway did not exist yet)."""

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@cache
def boot_id() -> str:
    """This boot's id: the kernel's random boot id on Linux, else a random id per process start."""
    try:
        value = _BOOT_ID.read_text().strip()
    except OSError:
        value = ""
    return value or uuid.uuid4().hex


def wall_trusted(wall: float) -> bool:
    """Whether a wall time looks set (not the 1970 of a board without a real-time clock)."""
    return wall >= MIN_TRUSTED_WALL


@dataclass(frozen=True, slots=True)
class Stamp:
    """Wall and monotonic time read together, with the boot they belong to."""

    wall: float
    """Seconds since the epoch, as the device's clock says (may be 1970-based on a fresh boot)."""
    mono: float
    """``time.monotonic()``: seconds since an arbitrary point of this boot; never jumps."""
    boot_id: str

    @property
    def trusted(self) -> bool:
        return wall_trusted(self.wall)

    @classmethod
    def now(cls) -> Stamp:
        return cls(wall=time.time(), mono=time.monotonic(), boot_id=boot_id())

    def rebased(self, offset: float) -> float:
        """The true wall time of this stamp given its boot's ``offset`` = true wall - mono."""
        return self.mono + offset
