"""The public API of mlway.plan is its __init__; pin it."""

from __future__ import annotations

import mlway.plan


def test_exported_names_are_pinned() -> None:
    assert sorted(mlway.plan.__all__) == sorted([
        "DEFAULT_FACTORS", "ENGINES", "Band", "Calibration", "Catalog", "Deployment", "EngineKnobs", "Factors",
        "GpuSpec", "MemoryBreakdown", "ModelSpec", "Option", "Plan", "PlanRequest", "Preset", "Profile",
        "QuantScheme", "Rejected", "SloTarget", "TokenDist", "Workload", "all_schemes", "calibrate", "get_engine",
        "get_scheme", "load_catalog", "load_hf_config", "load_profile", "memory_for", "parse_slo", "plan_for",
        "recommend", "spec_from_hf_config",
    ])  # fmt: skip
    for name in mlway.plan.__all__:
        assert hasattr(mlway.plan, name)
