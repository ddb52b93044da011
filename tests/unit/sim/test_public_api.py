"""The public API of mlway.sim is its __init__; pin it."""

from __future__ import annotations

import mlway.sim


def test_exported_names_are_pinned() -> None:
    assert sorted(mlway.sim.__all__) == sorted([
        "CAMERAS", "CLASSES", "FAILURE_MODES", "SENSORS", "STATES", "Camera", "CameraPose", "Machine",
        "RecordedShift", "SensorClock", "Shift", "ShiftConfig", "ShiftOutput", "SimFrame", "VideoWriter",
        "alive_frames", "contact_sheet", "live_frames", "machine", "machine_id", "open_shift", "parse_size",
        "read_frames", "write_contact_sheet", "write_shift",
    ])  # fmt: skip
    for name in mlway.sim.__all__:
        assert hasattr(mlway.sim, name)


def test_classes_are_the_four_the_classifier_learns() -> None:
    assert mlway.sim.CLASSES == ("idle", "harvesting", "unloading", "unloading_failure")
