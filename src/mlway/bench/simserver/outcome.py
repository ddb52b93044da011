"""What a request will get: its output length, why it stops, and whether it fails.

The natural length (an early EOS) is drawn from a generator seeded by the config's seed and the
prompt, so the same request always gets the same length whatever else the server is doing.
Failures are drawn in arrival order from one generator seeded by the config's seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from mlway.bench.simserver.config import FailureKind, SimServerConfig
from mlway.bench.simserver.requests import GenerationRequest

FinishReason = Literal["stop", "length"]


@dataclass(slots=True, frozen=True)
class Outcome:
    """The planned result of one generation request."""

    output_tokens: int
    finish_reason: FinishReason
    fault: FailureKind | None = None

    @property
    def fault_at(self) -> int:
        """Output tokens sent before a mid-stream fault shows up (half the response)."""
        return self.output_tokens // 2


class OutcomePlanner:
    """Draws outcomes for one server process."""

    def __init__(self, config: SimServerConfig) -> None:
        self._config = config
        self._faults = random.Random(config.seed)

    def plan(self, request: GenerationRequest) -> Outcome:
        config = self._config
        limit = request.max_tokens or config.default_max_tokens
        length: int = limit
        reason: FinishReason = "length"
        if not request.ignore_eos and config.eos_probability > 0:
            natural = max(request.min_tokens, self._natural_length(request.prompt_key))
            if natural <= limit:
                length, reason = max(natural, 1), "stop"
        fault: FailureKind | None = None
        if config.fail_rate > 0 and self._faults.random() < config.fail_rate:
            fault = self._faults.choice(config.failure_kinds)
        return Outcome(length, reason, fault)

    def _natural_length(self, prompt_key: str) -> int:
        """Tokens until the first EOS, each token ending the text with ``eos_probability``."""
        p = self._config.eos_probability
        if p >= 1:
            return 1
        draw = random.Random(f"{self._config.seed}:{prompt_key}").random()
        return 1 + int(math.log1p(-draw) / math.log1p(-p))
