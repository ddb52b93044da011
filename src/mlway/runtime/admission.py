"""Live budget bookkeeping of a host: free memory and cores, core picking, and eviction victims."""

from __future__ import annotations

from collections.abc import Iterable

from mlway.runtime.budget import Budget
from mlway.runtime.slot import Slot
from mlway.runtime.worker import Worker


def free_memory(slots: Iterable[Slot], budget: Budget) -> int:
    """Budget memory not reserved by a serving worker or one being loaded."""
    return budget.memory - sum(s.memory_reserved + s.incoming_memory for s in slots)


def free_cpus(slots: Iterable[Slot], budget: Budget) -> list[int]:
    """Budget cores not reserved by any worker, serving or loading."""
    taken = {c for s in slots for c in (*s.cpu_ids, *s.incoming_cpus)}
    return [c for c in budget.cpu_ids if c not in taken]


def reuses_cores(slot: Slot, threads: int, old: Worker | None) -> bool:
    """During a swap the new worker takes the old one's cores (they overlap only while it warms up)."""
    return old is not None and old.alive and len(slot.cpu_ids) >= threads


def pick_cores(
    slots: Iterable[Slot], budget: Budget, slot: Slot, threads: int, old: Worker | None
) -> tuple[int, ...] | None:
    """Cores for a new worker of ``slot``, or None if not enough are free; cores are never shared."""
    if reuses_cores(slot, threads, old):
        return slot.cpu_ids[:threads]
    free = free_cpus(slots, budget)
    return tuple(free[:threads]) if len(free) >= threads else None


def eviction_victims(
    slots: list[Slot], budget: Budget, slot: Slot, *, memory: int, threads: int, old: Worker | None
) -> list[Slot] | None:
    """Least recently used, lower-priority, unpinned serving models whose room lets ``slot`` load ``memory``
    bytes on ``threads`` cores; None if evicting all of them would still not be enough (then none is evicted)."""
    candidates = sorted(
        (
            s
            for s in slots
            if s is not slot and s.worker is not None and not s.bundle.manifest.pinned and s.priority < slot.priority
        ),
        key=lambda s: s.last_used,
    )
    memory_free = free_memory(slots, budget)
    cores_free = threads if reuses_cores(slot, threads, old) else len(free_cpus(slots, budget))
    victims: list[Slot] = []
    for candidate in candidates:
        if memory_free >= memory and cores_free >= threads:
            break
        victims.append(candidate)
        memory_free += candidate.memory_reserved
        cores_free += len(candidate.cpu_ids)
    if memory_free < memory or cores_free < threads or not victims:
        return None
    return victims


def eviction_reason(slot: Slot, victim: Slot) -> str:
    return (
        f"evicted to make room for {slot.name!r} (priority {slot.priority} > {victim.priority}); "
        "it was the least recently used unpinned model"
    )
