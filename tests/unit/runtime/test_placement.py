"""Admission as a dry run: the first variant that fits the quota and the free budget, by priority."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlway.runtime import Budget, Bundle, load_bundle, plan_placement

GIB = 1024**3


def _variant(name: str, memory: float, backend: str = "onnxruntime") -> dict[str, Any]:
    return {
        "name": name,
        "backend": backend,
        "entry": f"{name}.bin",
        "files": [{"path": f"{name}.bin", "sha256": "0" * 64}],
        "memory_bytes": int(memory * GIB),
    }


@pytest.fixture
def fleet(write_manifest: Callable[..., Path], make_manifest: Callable[..., dict[str, Any]]) -> list[Bundle]:
    """The talk's case: three models that fit in 8 GiB at full precision but not in 6 GiB."""
    specs = [
        ("detector", 10, [_variant("fp32", 3.0), _variant("int8", 1.2)]),
        ("embedder", 5, [_variant("fp32", 2.0), _variant("int8", 0.8)]),
        ("classifier", 1, [_variant("fp32", 1.5), _variant("int8-small", 0.5)]),
    ]
    return [
        load_bundle(write_manifest(make_manifest(name, priority=priority, variants=variants, quota={"memory": "4GiB"})))
        for name, priority, variants in specs
    ]


def test_8_gib_serves_every_model_at_full_precision(fleet: list[Bundle]) -> None:
    plan = plan_placement(fleet, Budget(memory="8GiB", cpu_ids=[0, 1, 2]))
    assert [(m.model, m.variant) for m in plan.models] == [
        ("detector", "fp32"),
        ("embedder", "fp32"),
        ("classifier", "fp32"),
    ]
    assert plan.free_memory == int(1.5 * GIB)
    assert all("first choice" in m.reason for m in plan.models)


def test_6_gib_falls_back_to_the_reduced_variant_and_says_why(fleet: list[Bundle]) -> None:
    plan = plan_placement(fleet, Budget(memory="6GiB", cpu_ids=[0, 1, 2]))
    assert [(m.model, m.variant) for m in plan.models] == [
        ("detector", "fp32"),
        ("embedder", "fp32"),
        ("classifier", "int8-small"),
    ]
    assert plan.model("classifier").reason == (
        "int8-small: fp32 needs 1.50 GiB (measured) but only 1.00 GiB of the 6.00 GiB budget is free"
    )
    assert [c.verdict for c in plan.model("classifier").considered] == ["over_budget", "chosen"]


def test_4_gib_leaves_the_lowest_priority_model_out(fleet: list[Bundle]) -> None:
    plan = plan_placement(fleet, Budget(memory="4GiB", cpu_ids=[0, 1, 2]))
    assert [(m.model, m.variant) for m in plan.models] == [
        ("detector", "fp32"),
        ("embedder", "int8"),
        ("classifier", None),
    ]
    assert plan.model("classifier").reason.startswith("no variant fits: fp32 needs 1.50 GiB")


def test_cores_are_never_oversubscribed(fleet: list[Bundle]) -> None:
    plan = plan_placement(fleet, Budget(memory="8GiB", cpu_ids=[0, 1]))
    assert [m.cpu_ids for m in plan.models] == [[0], [1], []]
    reason = plan.model("classifier").reason
    assert "0 of 2 are free (taken: 0: detector, 1: embedder); cores are never shared" in reason
    assert plan.free_cpu_ids == []


def test_quota_rules_out_a_variant_larger_than_it(
    write_manifest: Callable[..., Path], make_manifest: Callable[..., dict[str, Any]]
) -> None:
    bundle = load_bundle(
        write_manifest(
            make_manifest(variants=[_variant("fp32", 1.0), _variant("int8", 0.25)], quota={"memory": "300MiB"})
        )
    )
    plan = plan_placement([bundle], Budget(memory="8GiB", cpus=1))
    assert plan.models[0].variant == "int8"
    assert plan.models[0].reason == "int8: fp32 needs 1.00 GiB (measured), over its 300.00 MiB quota"


def test_pinned_models_are_placed_first_then_priority(
    write_manifest: Callable[..., Path], make_manifest: Callable[..., dict[str, Any]]
) -> None:
    bundles = [
        load_bundle(
            write_manifest(
                make_manifest(name, priority=p, pinned=pin, variants=[_variant("fp32", 1.0)], quota={"memory": "2GiB"})
            )
        )
        for name, p, pin in [("low-pinned", -5, True), ("high", 9, False), ("mid", 3, False)]
    ]
    plan = plan_placement(bundles, Budget(memory="2GiB", cpu_ids=[0, 1, 2]))
    assert [(m.model, m.variant) for m in plan.models] == [("low-pinned", "fp32"), ("high", "fp32"), ("mid", None)]


def test_tampered_artefact_and_missing_engine_are_refused_in_the_plan(
    write_manifest: Callable[..., Path], make_manifest: Callable[..., dict[str, Any]]
) -> None:
    variants = [_variant("npu", 0.1, backend="rknn-lite"), _variant("fp32", 1.0), _variant("int8", 0.5)]
    bundle = load_bundle(write_manifest(make_manifest(variants=variants, quota={"memory": "2GiB"})))
    (bundle.directory / "fp32.bin").write_bytes(b"tampered")
    plan = plan_placement([bundle], Budget(memory="8GiB", cpus=1))
    placed = plan.models[0]
    assert placed.variant == "int8"
    assert [c.verdict for c in placed.considered] == ["refused", "refused", "chosen"]
    if importlib.util.find_spec("rknnlite") is None:
        assert "npu refused: backend rknn-lite needs rknnlite (pip install 'mlway[rknn]')" in placed.reason
    assert "fp32 refused: sha256 mismatch for fp32.bin" in placed.reason


def test_estimates_are_used_when_nothing_was_measured(
    write_manifest: Callable[..., Path], make_manifest: Callable[..., dict[str, Any]]
) -> None:
    plan = plan_placement([load_bundle(write_manifest(make_manifest()))], Budget(memory="1GiB", cpus=1))
    choice = plan.models[0].considered[0]
    assert choice.memory_source == "estimated"
    assert choice.memory_bytes > 64 * 1024**2
