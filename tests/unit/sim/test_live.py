"""The live stream: time order, pacing by a speed factor, the same pixels as the files, clear errors."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from mlway.core.errors import InputError
from mlway.sim import Shift, alive_frames, live_frames


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_frames_come_in_time_order_machine_by_machine_header_first(short: Shift) -> None:
    frames = list(itertools.islice(live_frames(short, speed=None), 8))
    assert [(f.machine, f.camera, f.frame_index) for f in frames[:4]] == [
        ("combine-01", "header", 0), ("combine-01", "auger", 0), ("combine-02", "header", 0), ("combine-02", "auger", 0)
    ]  # fmt: skip
    assert [f.timestamp for f in frames] == [0.0] * 4 + [0.2] * 4
    assert frames[0].label in {"idle", "harvesting"}


def test_real_time_waits_for_each_timestamp(short: Shift) -> None:
    clock = FakeClock()
    stream = live_frames(short, speed=1.0, cameras=["auger"], machines=["combine-01"], clock=clock, sleep=clock.sleep)
    frames = list(itertools.islice(stream, 6))
    assert [f.timestamp for f in frames] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert clock.now == pytest.approx(101.0)


def test_a_speed_factor_divides_the_waits(short: Shift) -> None:
    clock = FakeClock()
    list(itertools.islice(live_frames(short, speed=10.0, clock=clock, sleep=clock.sleep), 4 * 11))
    assert clock.now == pytest.approx(100.2)


def test_flat_out_never_sleeps(short: Shift) -> None:
    clock = FakeClock()
    list(itertools.islice(live_frames(short, speed=None, clock=clock, sleep=clock.sleep), 12))
    assert clock.sleeps == []


def test_live_pixels_equal_the_rendered_frames(short: Shift) -> None:
    for f in itertools.islice(live_frames(short, speed=None, start_s=10.0), 4):
        assert f.frame_index == 50
        assert np.array_equal(f.frame, short.frame(f.machine, f.camera, f.frame_index).frame)  # type: ignore[arg-type]


def test_async_stream_yields_the_same_frames(short: Shift) -> None:
    async def take(n: int) -> list[tuple[str, str, int]]:
        out = []
        async for f in alive_frames(short, speed=None):
            out.append((f.machine, f.camera, f.frame_index))
            if len(out) == n:
                break
        return out

    expected = [(f.machine, f.camera, f.frame_index) for f in itertools.islice(live_frames(short, speed=None), 6)]
    assert asyncio.run(take(6)) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"machines": ["combine-09"]}, "combine-09"),
        ({"cameras": ["roof"]}, "roof"),
        ({"speed": 0.0}, "speed"),
        ({"start_s": 1e6}, "outside"),
    ],
)
def test_bad_arguments_are_named(short: Shift, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        next(live_frames(short, **kwargs))  # type: ignore[arg-type]
