"""Token-length distributions users ask for: ``512``, ``uniform:256-768``, ``normal:512,64``."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

from mlway.core.errors import InputError

_FIXED = re.compile(r"^\s*(\d+)\s*$")
_UNIFORM = re.compile(r"^\s*uniform:(\d+)-(\d+)\s*$")
_NORMAL = re.compile(r"^\s*normal:(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)\s*$")
_FORMS = "a number (512), uniform:MIN-MAX (uniform:256-768) or normal:MEAN,STD (normal:512,64)"


@dataclass(frozen=True, slots=True)
class LengthDist:
    """A distribution of token counts; samples are clipped to at least ``minimum``."""

    kind: Literal["fixed", "uniform", "normal"]
    a: float
    b: float = 0.0
    minimum: int = 1

    @classmethod
    def parse(cls, text: str | int, *, what: str = "token count", minimum: int = 1) -> LengthDist:
        if isinstance(text, int):
            text = str(text)
        if m := _FIXED.match(text):
            dist = cls("fixed", float(m.group(1)), minimum=minimum)
        elif m := _UNIFORM.match(text):
            low, high = int(m.group(1)), int(m.group(2))
            if low > high:
                raise InputError(f"invalid {what} {text!r}: MIN is larger than MAX", hint=f"write {_FORMS}")
            dist = cls("uniform", low, high, minimum=minimum)
        elif m := _NORMAL.match(text):
            dist = cls("normal", float(m.group(1)), float(m.group(2)), minimum=minimum)
        else:
            raise InputError(f"invalid {what} {text!r}", hint=f"write {_FORMS}")
        if dist.mean < minimum:
            raise InputError(f"invalid {what} {text!r}: must be at least {minimum}")
        return dist

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.randint(int(self.a), int(self.b))
        else:
            value = round(rng.gauss(self.a, self.b))
        return max(self.minimum, int(value))

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        if self.kind == "uniform":
            return f"uniform:{self.a:g}-{self.b:g}"
        return f"normal:{self.a:g},{self.b:g}"
