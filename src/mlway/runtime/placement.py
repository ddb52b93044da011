"""Admission as a pure function: which variant of each model loads where, and why the others did not.

``plan_placement`` is the dry run ``mlway serve plan`` prints and the first step of
``ModelHost.start``. Models are placed pinned first, then by priority (highest first), then by name.
For each, the first variant is chosen that (1) is not refused (engine installed, artefacts match their
sha256), (2) needs no more memory than the model's quota and (3) no more than the free budget, while
enough cores are free for its quota's ``cpu_threads``; cores are never shared between models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from mlway.core.model import StrictModel
from mlway.core.units import format_bytes
from mlway.runtime.budget import Budget
from mlway.runtime.bundle import Bundle
from mlway.runtime.variants import MemorySource, memory_need, need_text, refusal

Verdict = Literal["chosen", "refused", "over_quota", "over_budget", "no_cores", "not_needed"]


class VariantChoice(StrictModel):
    """One variant as admission saw it."""

    variant: str = Field(description="Variant name.")
    memory_bytes: int = Field(ge=0, description="Memory the variant needs (measured or estimated).")
    memory_source: MemorySource = Field(description="'measured' by `mlway runtime measure`, or 'estimated'.")
    accepted: bool = Field(description="Whether this variant was chosen.")
    verdict: Verdict = Field(description="chosen, refused, over_quota, over_budget, no_cores or not_needed.")
    reason: str = Field(description="Why it was chosen or passed over.")


class ModelPlacement(StrictModel):
    """Where one model goes: its chosen variant (or none) and the reason."""

    model: str = Field(description="Model name.")
    version: str = Field(description="Model version.")
    priority: int = Field(description="The model's priority.")
    pinned: bool = Field(description="Whether the model is pinned.")
    variant: str | None = Field(description="Chosen variant, or None if nothing fits.")
    memory_bytes: int = Field(ge=0, description="Memory reserved for it in the budget (0 if not placed).")
    memory_limit: int = Field(ge=0, description="The model's memory quota (the watchdog's limit).")
    cpu_ids: list[int] = Field(description="Cores reserved for its worker.")
    reason: str = Field(description="Why this variant, or why none.")
    considered: list[VariantChoice] = Field(description="Every variant looked at, in manifest order.")


class Placement(StrictModel):
    """A whole plan: every model's placement and what is left of the budget."""

    budget: Budget = Field(description="The budget planned into.")
    models: list[ModelPlacement] = Field(description="In placement order (pinned, priority, name).")
    free_memory: int = Field(description="Memory left unreserved.")
    free_cpu_ids: list[int] = Field(description="Cores left unreserved.")

    def model(self, name: str) -> ModelPlacement:
        for placement in self.models:
            if placement.model == name:
                return placement
        raise KeyError(name)


def placement_order(bundles: Sequence[Bundle]) -> list[Bundle]:
    return sorted(bundles, key=lambda b: (not b.manifest.pinned, -b.manifest.priority, b.name))


def choose_variant(
    bundle: Bundle,
    *,
    free_memory: int,
    budget: Budget,
    skip: dict[str, str] | None = None,
    verify: bool = True,
) -> tuple[int | None, list[VariantChoice]]:
    """Index of the first variant that fits ``free_memory`` and the quota, with every variant's verdict."""
    manifest = bundle.manifest
    quota = manifest.quota.memory
    choices: list[VariantChoice] = []
    chosen: int | None = None
    for index, variant in enumerate(manifest.variants):
        need, source = memory_need(bundle, variant)
        if chosen is not None:
            choices.append(
                VariantChoice(
                    variant=variant.name,
                    memory_bytes=need,
                    memory_source=source,
                    accepted=False,
                    verdict="not_needed",
                    reason="not needed",
                )
            )
            continue
        why = (skip or {}).get(variant.name) or refusal(bundle, variant, verify=verify)
        verdict: Verdict = "refused" if why else "chosen"
        if why is None and need > quota:
            verdict = "over_quota"
            why = f"{variant.name} needs {need_text(need, source)}, over its {format_bytes(quota)} quota"
        elif why is None and need > free_memory:
            verdict = "over_budget"
            why = (
                f"{variant.name} needs {need_text(need, source)} but only {format_bytes(free_memory)} "
                f"of the {format_bytes(budget.memory)} budget is free"
            )
        accepted = why is None
        if accepted:
            chosen = index
        choices.append(
            VariantChoice(
                variant=variant.name,
                memory_bytes=need,
                memory_source=source,
                accepted=accepted,
                verdict=verdict,
                reason=why or "",
            )
        )
    return chosen, choices


def explain(chosen: int | None, choices: list[VariantChoice], prefix: str = "") -> str:
    """``"int8: fp32 needs 2.40 GiB (measured) but only 1.10 GiB of the 6.00 GiB budget is free"``."""
    passed = [c.reason for c in choices[: chosen if chosen is not None else len(choices)] if c.reason]
    if prefix:
        passed.insert(0, prefix)
    if chosen is None:
        return "no variant fits: " + "; ".join(passed)
    name = choices[chosen].variant
    return f"{name}: " + ("; ".join(passed) if passed else "first choice, fits its quota and the budget")


def plan_placement(bundles: Sequence[Bundle], budget: Budget, *, verify: bool = True) -> Placement:
    """Dry run of admission: which variant of each model loads, on which cores, and why."""
    free_memory = budget.memory
    free_cpus = list(budget.cpu_ids)
    owners: dict[int, str] = {}
    placements: list[ModelPlacement] = []
    for bundle in placement_order(bundles):
        manifest = bundle.manifest
        threads = manifest.quota.cpu_threads
        chosen: int | None = None
        if threads > len(free_cpus):
            taken = ", ".join(f"{cpu}: {owner}" for cpu, owner in sorted(owners.items()))
            reason = (
                f"needs {threads} free core(s) for cpu_threads={threads} but {len(free_cpus)} of "
                f"{budget.cpus} are free (taken: {taken or 'none'}); cores are never shared"
            )
            _, choices = choose_variant(bundle, free_memory=free_memory, budget=budget, verify=verify)
            for choice in choices:
                if choice.accepted:
                    choice.accepted, choice.verdict = False, "no_cores"
        else:
            chosen, choices = choose_variant(bundle, free_memory=free_memory, budget=budget, verify=verify)
            reason = explain(chosen, choices)
        cpu_ids: list[int] = []
        memory = 0
        if chosen is not None:
            memory = choices[chosen].memory_bytes
            cpu_ids, free_cpus = free_cpus[:threads], free_cpus[threads:]
            owners |= dict.fromkeys(cpu_ids, manifest.name)
            free_memory -= memory
        placements.append(
            ModelPlacement(
                model=manifest.name,
                version=manifest.version,
                priority=manifest.priority,
                pinned=manifest.pinned,
                variant=manifest.variants[chosen].name if chosen is not None else None,
                memory_bytes=memory,
                memory_limit=manifest.quota.memory,
                cpu_ids=cpu_ids,
                reason=reason,
                considered=choices,
            )
        )
    return Placement(budget=budget, models=placements, free_memory=free_memory, free_cpu_ids=free_cpus)
