"""What the planner needs from an inference engine, and helpers every engine shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from mlway.plan.deployment import Deployment
from mlway.plan.memory import MemoryBreakdown


class Engine(ABC):
    """An inference engine: its KV budget rule, its batching behaviour and its command line."""

    name: ClassVar[str]
    label: ClassVar[str]
    fp16_accumulate: ClassVar[bool] = False
    """Its 16-bit GEMMs accumulate in fp16 (llama.cpp), which doubles GeForce tensor throughput."""
    chunked_prefill: ClassVar[bool] = True
    full_kv_reservation: ClassVar[bool] = False
    """Requests reserve KV for their whole length when admitted (else blocks grow as tokens come)."""
    fixed_slots: ClassVar[bool] = False
    """Concurrency is a fixed number of slots (llama.cpp), not bounded by a shared KV pool."""

    @abstractmethod
    def memory(self, dep: Deployment, max_model_len: int) -> MemoryBreakdown:
        """The memory of one TP rank serving ``max_model_len``-token requests."""

    @abstractmethod
    def command(self, dep: Deployment, mem: MemoryBreakdown) -> str:
        """The command line that starts this engine with the planned settings."""

    def supports(self, dep: Deployment) -> str | None:
        """Why this engine cannot run the deployment, or None."""
        if dep.scheme.gguf:
            return f"{dep.scheme.name} is a llama.cpp format: use --engine llama.cpp"
        return None


def max_len_search(fits: Callable[[int], bool], upper: int) -> int:
    """The longest max_model_len up to ``upper`` for which ``fits`` holds (0 if none); fits is monotone."""
    if not fits(1):
        return 0
    low, high = 1, max(upper, 1)
    if fits(high):
        return high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def model_ref(dep: Deployment) -> str:
    return dep.model.hf_id or dep.model.name
