"""The shift's state machine: what one combine does and when, with the true times of everything.

A combine harvests a pass, turns at the headland and starts the next pass; it stops now and then in
the crop and waits at the headland. Its grain tank fills while it harvests; near full it unloads into
a grain cart, standing still or on the go, which takes a couple of minutes. Some unloadings run into
a failure (the auger runs but no grain flows, or the spout blocks and grain spills), which is either
cleared and the unloading resumes, or the unloading is aborted. Now and then another combine unloads
alongside, in view of the cameras: the distractor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlway.sim.labels import FAILURE_MODES

EMPTY = 0.02
"""Tank fill left after a complete unloading."""


@dataclass(frozen=True, slots=True)
class DriveSegment:
    kind: str  # harvesting | turning | stop | idle
    start: float
    end: float
    header_down: bool


@dataclass(frozen=True, slots=True)
class Failure:
    start: float
    end: float
    mode: str  # no_flow | blocked
    resolved: bool


@dataclass(frozen=True, slots=True)
class Unloading:
    start: float
    end: float
    on_the_go: bool
    failures: tuple[Failure, ...]
    cart_fill: float  # how full the cart is when it arrives, 0..1
    cart_style: int


@dataclass(frozen=True, slots=True)
class Distractor:
    start: float
    end: float
    x: float  # horizontal place in the auger camera's view, 0..1
    depth: float  # apparent size, 0..1 (1 = close)


@dataclass(frozen=True, slots=True)
class MachineSchedule:
    machine: str
    duration: float
    drive: tuple[DriveSegment, ...]
    unloadings: tuple[Unloading, ...]
    distractors: tuple[Distractor, ...]
    fill: tuple[tuple[float, float], ...]  # knots (time, tank fill 0..1), linear between
    harvest_speed: float  # m/s

    @property
    def failures(self) -> list[Failure]:
        return [f for u in self.unloadings for f in u.failures]


class _Builder:
    """Walks the shift forward segment by segment, tracking time and tank fill."""

    def __init__(self, rng: np.random.Generator, duration: float) -> None:
        self.rng = rng
        self.duration = duration
        self.t = 0.0
        self.fill = float(rng.uniform(0.05, 0.6))
        self.knots: list[tuple[float, float]] = [(0.0, self.fill)]
        self.drive: list[DriveSegment] = []
        self.unloadings: list[Unloading] = []
        self.fill_rate = 1.0 / float(rng.uniform(6 * 60, 10 * 60))  # tank fraction per second while harvesting
        self.unload_rate = 1.0 / float(rng.uniform(100, 170))  # a full tank empties in 1.7 to 2.8 minutes
        self.threshold = float(rng.uniform(0.8, 0.95))
        self.pass_left = float(rng.uniform(40, 240))

    def advance(self, seconds: float, rate: float) -> None:
        self.t += seconds
        self.fill = float(np.clip(self.fill + rate * seconds, 0.0, 1.0))
        self.knots.append((self.t, self.fill))

    def add_drive(self, kind: str, seconds: float, *, header_down: bool, rate: float = 0.0) -> None:
        self.drive.append(DriveSegment(kind, self.t, self.t + seconds, header_down))
        self.advance(seconds, rate)

    def harvest_or_turn(self) -> None:
        rng = self.rng
        if self.pass_left <= 0.5:
            self.add_drive("turning", float(rng.uniform(15, 45)), header_down=False)
            if rng.random() < 0.12:
                self.add_drive("idle", float(rng.uniform(20, 120)), header_down=False)
            self.pass_left = float(rng.uniform(150, 360))
            return
        to_full = max(0.5, (self.threshold - self.fill) / self.fill_rate)
        stop_in = float(rng.exponential(480.0))
        seconds = min(self.pass_left, to_full, stop_in, max(0.5, self.duration - self.t))
        self.add_drive("harvesting", seconds, header_down=True, rate=self.fill_rate)
        self.pass_left -= seconds
        if seconds == stop_in:
            self.add_drive("stop", float(rng.uniform(5, 40)), header_down=True)

    def unload(self, *, failure_rate: float, on_the_go_rate: float, force_failure: bool) -> None:
        rng = self.rng
        on_the_go = rng.random() < on_the_go_rate
        net = self.unload_rate - (self.fill_rate if on_the_go else 0.0)
        planned = (self.fill - EMPTY) / net
        if on_the_go and self.pass_left < planned + 60:
            on_the_go, net = False, self.unload_rate
            planned = (self.fill - EMPTY) / net
        fails = force_failure or rng.random() < failure_rate
        header_down = on_the_go or rng.random() < 0.5
        if not on_the_go:
            self.add_drive("idle", float(rng.uniform(4, 20)), header_down=header_down)
        start = self.t
        inflow = self.fill_rate if on_the_go else 0.0
        failures: list[Failure] = []
        if fails:
            before = planned * float(rng.uniform(0.1, 0.6))
            self.advance(before, -net)
            mode = FAILURE_MODES[int(rng.random() < 0.4)]
            seconds = float(rng.uniform(8, 45))
            resolved = rng.random() < 0.65
            failures.append(Failure(self.t, self.t + seconds, mode, resolved))
            self.advance(seconds, inflow)
            if resolved:
                self.advance((self.fill - EMPTY) / net, -net)
        else:
            self.advance(planned, -net)
        end = self.t
        kind = "harvesting" if on_the_go else "idle"
        self.drive.append(DriveSegment(kind, start, end, header_down))
        if on_the_go:
            self.pass_left -= end - start
        if failures and not failures[-1].resolved:
            self.add_drive("idle", float(rng.uniform(20, 90)), header_down=header_down)  # clearing the blockage
        elif not on_the_go:
            self.add_drive("idle", float(rng.uniform(3, 10)), header_down=header_down)
        style = int(rng.integers(0, 4))
        self.unloadings.append(Unloading(start, end, on_the_go, tuple(failures), float(rng.uniform(0, 0.35)), style))


def build_schedule(
    machine: str,
    rng: np.random.Generator,
    duration: float,
    *,
    failure_rate: float,
    on_the_go_rate: float,
    distractor_rate: float,
    force_failure: bool = False,
) -> MachineSchedule:
    """One combine's shift of ``duration`` seconds; ``force_failure`` makes its first unloading fail."""
    b = _Builder(rng, duration)
    while b.t < duration:
        if b.fill >= b.threshold:
            b.unload(failure_rate=failure_rate, on_the_go_rate=on_the_go_rate, force_failure=force_failure)
            force_failure = False
        else:
            b.harvest_or_turn()
    return MachineSchedule(
        machine=machine,
        duration=duration,
        drive=tuple(b.drive),
        unloadings=tuple(b.unloadings),
        distractors=_distractors(rng, duration, distractor_rate, b.unloadings),
        fill=tuple(b.knots),
        harvest_speed=float(rng.uniform(1.1, 1.9)),
    )


def _distractors(
    rng: np.random.Generator, duration: float, per_hour: float, unloadings: list[Unloading]
) -> tuple[Distractor, ...]:
    """Another combine unloading in view: at random, and on purpose over half of our failures (the hard case)."""
    starts = list(rng.uniform(-60, duration, size=int(rng.poisson(per_hour * duration / 3600.0))))
    starts += [f.start - float(rng.uniform(5, 30)) for u in unloadings for f in u.failures if rng.random() < 0.5]
    found = [
        Distractor(float(s), float(s + rng.uniform(60, 200)), float(rng.uniform(0.15, 0.85)), float(rng.uniform(0, 1)))
        for s in sorted(starts)
    ]
    return tuple(d for d in found if d.end > 0 and d.start < duration)
