"""The public API of mlway.runtime is its __init__; pin it (the server and the edge agent build on it)."""

from __future__ import annotations

import mlway.runtime


def test_exported_names_are_pinned() -> None:
    assert sorted(mlway.runtime.__all__) == sorted([
        "Backend", "Batching", "Budget", "BudgetError", "Bundle", "BundleError", "BundleManifest",
        "DeadlineExceededError",
        "HostSettings", "HostStatus", "ImagePreprocessing", "IntegrityError", "LoadSpec", "Measurement",
        "ModelEvent", "ModelHost", "ModelPlacement", "ModelStatus", "ModelUnavailableError", "OverloadedError",
        "Placement", "Quota", "QuotaExceededError", "TensorSpec", "TextPreprocessing", "Variant", "VariantChoice",
        "VariantFile", "VariantMeasurement", "WorkerCrashedError", "backend_kinds", "file_entry", "get_backend",
        "load_bundle", "load_bundles", "measure_bundle", "plan_placement", "register_backend", "save_manifest",
        "verify_variant", "write_manifest",
    ])  # fmt: skip
    for name in mlway.runtime.__all__:
        assert hasattr(mlway.runtime, name)


def test_errors_carry_http_statuses() -> None:
    assert mlway.runtime.OverloadedError.http_status == 429
    assert mlway.runtime.DeadlineExceededError.http_status == 504
    assert mlway.runtime.ModelUnavailableError.http_status == 503
    assert mlway.runtime.QuotaExceededError.http_status == 503
    assert mlway.runtime.BundleError.http_status == 400
