"""Names shared by every part of the simulator: cameras, machine states and the per-frame classes.

A frame's label is what *its* camera shows, so the two cameras of one combine can disagree:

    machine state        header camera   auger camera
    harvesting           harvesting      idle
    turning              idle            idle
    stop                 idle            idle
    idle                 idle            idle
    unloading            harvesting*     unloading
    unloading_failure    harvesting*     unloading_failure

    * when unloading on the go (still harvesting); idle when the combine stands still to unload.
"""

from __future__ import annotations

from typing import Final, Literal

Camera = Literal["header", "auger"]
CAMERAS: Final[tuple[Camera, ...]] = ("header", "auger")

CLASSES: Final[tuple[str, ...]] = ("idle", "harvesting", "unloading", "unloading_failure")
"""The per-frame classes, in the order a classifier should use."""

STATES: Final[tuple[str, ...]] = ("harvesting", "turning", "stop", "idle", "unloading", "unloading_failure")
"""What a combine does; ``stop`` is a short halt in the crop, ``idle`` a longer wait with the header raised."""

DRIVE_KINDS: Final[tuple[str, ...]] = ("harvesting", "turning", "stop", "idle")
FAILURE_MODES: Final[tuple[str, ...]] = ("no_flow", "blocked")
"""``no_flow``: the auger runs, no grain comes; ``blocked``: the spout is blocked, grain spills beside the cart."""

IDLE, HARVESTING, UNLOADING, FAILURE = range(4)
"""Indexes into :data:`CLASSES`."""
