"""How an emulated network link behaves: bandwidth, latency, faults and an up/down schedule.

    LinkProfile.gsm_2g()                       # ~40 kbit/s each way, 300-1000 ms, resets and stalls
    LinkProfile.gsm_2g(seed=3, schedule=[(60, 30)])   # the same, up 60 s then down 30 s, cycling
    LinkProfile.perfect()                      # a wire: no limit, no delay, no faults

Directions are named from the client's side, as on a device: ``up`` carries what the client sends
(the agent's batches to the hub), ``down`` what the upstream server answers.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from mlway.core.errors import ConfigError, InputError
from mlway.core.model import StrictModel
from mlway.core.units import parse_duration

DownMode = Literal["refuse", "blackhole"]


class LinkProfile(StrictModel):
    """One radio link shared by every connection through the proxy; randomness is seeded."""

    up_bps: float | None = Field(
        None, gt=0, description="Bandwidth client -> upstream in bits/s, shared by all connections; None: unlimited."
    )
    down_bps: float | None = Field(
        None, gt=0, description="Bandwidth upstream -> client in bits/s, shared by all connections; None: unlimited."
    )
    latency_min_s: float = Field(0.0, ge=0, le=60, description="Least one-way delay added to each chunk, seconds.")
    latency_max_s: float = Field(
        0.0, ge=0, le=60, description="Greatest one-way delay; each chunk draws uniformly, order kept per connection."
    )
    reset_per_kb: float = Field(
        0.0, ge=0, lt=1, description="Probability per KiB carried (both ways) that the connection is reset (RST)."
    )
    stall_per_kb: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Probability per KiB carried that the connection silently stops carrying data (a black hole).",
    )
    schedule: list[tuple[float, float]] = Field(
        default_factory=list,
        description="Cycle of (up seconds, down seconds) from the proxy's start; empty: always up.",
    )
    down_mode: DownMode = Field(
        "refuse",
        description="While down: 'refuse' resets open connections and new ones right after accept; "
        "'blackhole' accepts and keeps every connection silent, so only the client's deadlines end it.",
    )
    chunk_bytes: int = Field(
        512, ge=16, le=65536, description="Largest piece read and delayed as one unit (64 KiB when unshaped)."
    )
    connect_timeout_s: float = Field(5.0, gt=0, le=600, description="Deadline to connect to the upstream.")
    seed: int = Field(0, description="Seed of latencies and faults; connection n always draws the same stream.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.latency_max_s < self.latency_min_s:
            raise ValueError(
                f"latency_max_s {self.latency_max_s} is below latency_min_s {self.latency_min_s}; swap them"
            )
        for up_s, down_s in self.schedule:
            if up_s <= 0 or down_s < 0:
                raise ValueError(
                    f"schedule entry ({up_s}, {down_s}) is invalid: up seconds must be > 0, down seconds >= 0"
                )
        return self

    @classmethod
    def gsm_2g(cls, **overrides: Any) -> LinkProfile:
        """A poor 2G (GPRS/EDGE) data link: ~40 kbit/s each way, 300-1000 ms one way, resets and stalls.

        A 10 KiB batch meets a reset about 5% of the time and a stall about 2%.
        """
        values: dict[str, Any] = {
            "up_bps": 40_000.0, "down_bps": 40_000.0, "latency_min_s": 0.3, "latency_max_s": 1.0,
            "reset_per_kb": 0.005, "stall_per_kb": 0.002,
        }  # fmt: skip
        return cls(**(values | overrides))

    @classmethod
    def perfect(cls, **overrides: Any) -> LinkProfile:
        """No bandwidth limit, no latency, no faults: the proxy is a plain TCP relay."""
        return cls(**overrides)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> LinkProfile:
        """A named preset (``2g`` or ``perfect``) with fields overridden; bad values raise ConfigError."""
        presets = {"2g": cls.gsm_2g, "gsm": cls.gsm_2g, "perfect": cls.perfect}
        if name not in presets:
            raise InputError(f"unknown link profile {name!r}", hint=f"choose one of: {', '.join(sorted(presets))}")
        try:
            return presets[name](**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "profile"
            raise ConfigError(
                f"invalid link profile {name!r}: {where}: {first['msg']}",
                hint="see `LinkProfile` for each field's bounds",
            ) from exc

    def describe(self) -> str:
        """One line for people: ``40 kbit/s up, 40 kbit/s down, 300-1000 ms, resets 0.005/KiB, ...``."""

        def rate(bps: float | None) -> str:
            return "unlimited" if bps is None else f"{bps / 1000:g} kbit/s"

        parts = [f"{rate(self.up_bps)} up", f"{rate(self.down_bps)} down",
                 f"latency {self.latency_min_s * 1000:g}-{self.latency_max_s * 1000:g} ms",
                 f"resets {self.reset_per_kb:g}/KiB", f"stalls {self.stall_per_kb:g}/KiB",
                 f"down mode {self.down_mode}", f"seed {self.seed}"]  # fmt: skip
        if self.schedule:
            parts.append("schedule " + ",".join(f"{u:g}s-up,{d:g}s-down" for u, d in self.schedule))
        return ", ".join(parts)


def parse_latency(text: str) -> tuple[float, float]:
    """``"300ms-1s"`` -> ``(0.3, 1.0)``; a single duration ``"500ms"`` means a fixed delay."""
    parts = text.split("-")
    if len(parts) not in (1, 2) or not all(p.strip() for p in parts):
        raise InputError(f"invalid latency {text!r}", hint="write one duration (500ms) or a range MIN-MAX (300ms-1s)")
    low = parse_duration(parts[0], what="latency")
    high = parse_duration(parts[-1], what="latency")
    if high < low:
        raise InputError(f"invalid latency {text!r}: the maximum is below the minimum", hint="write MIN-MAX: 300ms-1s")
    return low, high


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """``"60s-up,30s-down"`` -> ``[(60.0, 30.0)]``: alternating up and down periods, starting with up."""
    hint = "write alternating periods starting with up and ending with down: 60s-up,30s-down,120s-up,10s-down"
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"invalid schedule {text!r}: empty", hint=hint)
    periods: list[float] = []
    for n, item in enumerate(items):
        duration, _, state = item.rpartition("-")
        expected = "up" if n % 2 == 0 else "down"
        if state != expected or not duration:
            raise InputError(f"invalid schedule {text!r}: item {item!r} should be <duration>-{expected}", hint=hint)
        periods.append(parse_duration(duration, what="schedule period"))
    if len(periods) % 2:
        raise InputError(f"invalid schedule {text!r}: it ends with an up period", hint=hint)
    pairs = list(zip(periods[::2], periods[1::2], strict=True))
    if any(up <= 0 for up, _ in pairs):
        raise InputError(f"invalid schedule {text!r}: an up period must be longer than 0 s", hint=hint)
    return pairs
