"""The scheduler: drop-oldest when behind, the fps target by stream time, and the alternate / round-robin /
per-camera policies, with every drop counted per camera."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mlway.core.errors import ConfigError
from mlway.edge.scheduler import READ_AHEAD, Scheduler
from mlway.edge.sources.base import Frame

PIXELS = np.zeros((2, 2, 3), np.uint8)


def frame(camera: str, index: int, time_s: float | None = None) -> Frame:
    t = index * 0.1 if time_s is None else time_s
    return Frame(camera, index, t, 0.0, time.monotonic(), PIXELS)


def drain(scheduler: Scheduler, timeout: float = 0.05) -> list[tuple[str, int]]:
    out = []
    while (f := scheduler.next(timeout)) is not None:
        out.append((f.camera, f.index))
    return out


def test_a_full_queue_drops_its_oldest_frame_and_counts_it() -> None:
    s = Scheduler([("auger", None)], policy="round-robin", queue=2)
    for i in range(5):
        s.offer(frame("auger", i))
    assert drain(s) == [("auger", 3), ("auger", 4)]
    c = s.counters()["auger"]
    assert (c.frames_in, c.dropped, c.skipped, c.taken) == (5, 3, 0, 2)
    assert c.frames_dropped == 3


def test_the_fps_target_skips_frames_by_stream_time() -> None:
    s = Scheduler([("auger", 5.0)], policy="round-robin", queue=100)
    for i in range(50):  # 5 s of a 10 fps stream
        s.offer(frame("auger", i, time_s=i * 0.1))
    taken = drain(s)
    assert len(taken) == 25
    assert [i for _, i in taken[:4]] == [0, 2, 4, 6]
    c = s.counters()["auger"]
    assert (c.skipped, c.dropped) == (25, 0)


def test_alternate_takes_cameras_in_strict_turns() -> None:
    s = Scheduler([("header", None), ("auger", None)], policy="alternate", queue=10)
    for i in range(3):
        s.offer(frame("header", i))
    for i in range(3):
        s.offer(frame("auger", i))
    assert drain(s) == [("header", 0), ("auger", 0), ("header", 1), ("auger", 1), ("header", 2), ("auger", 2)]


def test_alternate_waits_for_the_turn_camera_then_passes_the_turn() -> None:
    s = Scheduler([("header", None), ("auger", 20.0)], policy="alternate", queue=10)
    for i in range(3):
        s.offer(frame("header", i))
    first = s.next(1.0)
    began = time.monotonic()
    second = s.next(1.0)  # auger's turn: it has nothing; after its frame period the turn passes to header
    waited = time.monotonic() - began
    assert first is not None
    assert second is not None
    assert (first.camera, second.camera) == ("header", "header")
    assert waited >= 0.04  # it did wait for auger's turn (1/20 s), instead of taking header at once


def test_round_robin_never_idles_while_a_camera_has_frames() -> None:
    s = Scheduler([("header", None), ("auger", None)], policy="round-robin", queue=10)
    for i in range(3):
        s.offer(frame("header", i))
    s.offer(frame("auger", 0))
    assert drain(s, timeout=0.0) == [("header", 0), ("auger", 0), ("header", 1), ("header", 2)]


def test_a_finished_camera_loses_its_turn_and_the_scheduler_ends() -> None:
    s = Scheduler([("header", None), ("auger", 1.0)], policy="alternate", queue=10)
    s.offer(frame("header", 0))
    s.offer(frame("header", 1))
    s.finish("auger")
    assert drain(s, timeout=0.0) == [("header", 0), ("header", 1)]
    assert not s.exhausted
    s.finish("header")
    assert s.exhausted
    assert s.next(0.5) is None


def test_per_camera_slots_take_only_their_camera() -> None:
    s = Scheduler([("header", None), ("auger", None)], policy="per-camera", queue=10)
    s.offer(frame("header", 0))
    s.offer(frame("auger", 0))
    s.offer(frame("auger", 1))
    got = s.next_for("auger", 0.1)
    assert got is not None
    assert (got.camera, got.index) == ("auger", 0)
    assert s.next_for("header", 0.1) is not None
    assert s.next_for("header", 0.05) is None


def test_a_per_camera_batch_takes_only_that_cameras_frames_already_waiting() -> None:
    s = Scheduler([("header", None), ("auger", None)], policy="per-camera", queue=10)
    for i in range(3):
        s.offer(frame("auger", i))
    s.offer(frame("header", 0))
    batch = s.next_batch_for("auger", 2, 0.1)
    assert [(f.camera, f.index) for f in batch] == [("auger", 0), ("auger", 1)]
    assert [(f.camera, f.index) for f in s.next_batch_for("auger", 4, 0.1)] == [("auger", 2)]  # no wait for more
    started = time.monotonic()
    assert s.next_batch_for("auger", 4, 0.05) == []
    assert time.monotonic() - started >= 0.04  # waited its timeout for a first frame
    assert s.pending("auger") == 3  # taken, not yet released
    assert s.pending("header") == 1


def test_a_waiting_offer_reads_ahead_then_blocks_instead_of_dropping() -> None:
    s = Scheduler([("file", None)], policy="round-robin", queue=1)
    for i in range(READ_AHEAD):  # a file read flat out may run READ_AHEAD frames ahead of a queue of 1
        s.offer(frame("file", i), True)
    offered = threading.Event()

    def produce() -> None:
        s.offer(frame("file", READ_AHEAD), True)
        offered.set()

    threading.Thread(target=produce, daemon=True).start()
    assert not offered.wait(0.2)  # blocked: the read-ahead is full
    taken = [s.next(0.1) for _ in range(READ_AHEAD // 2 - 1)]
    assert not offered.wait(0.2)  # still more than half waiting: the reader is not woken per frame
    taken.append(s.next(0.1))
    assert offered.wait(2)  # half taken: room again
    got = [(f.camera, f.index) for f in taken if f is not None] + drain(s)
    assert got == [("file", i) for i in range(READ_AHEAD + 1)]
    assert s.counters()["file"].dropped == 0


def test_an_unknown_policy_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="alternate, round-robin, per-camera"):
        Scheduler([("a", None)], policy="fifo")


def test_a_batch_takes_only_frames_already_waiting_in_policy_order() -> None:
    s = Scheduler([("header", None), ("auger", None)], policy="alternate", queue=10)
    for i in range(3):
        s.offer(frame("header", i))
    for i in range(2):
        s.offer(frame("auger", i))
    batch = s.next_batch(4, 0.1)
    assert [(f.camera, f.index) for f in batch] == [("header", 0), ("auger", 0), ("header", 1), ("auger", 1)]
    assert s.pending("header") == 3  # one queued, two being inferred
    s.release(batch)
    assert (s.pending("header"), s.pending("auger")) == (1, 0)
    assert [(f.camera, f.index) for f in s.next_batch(4, 0.1)] == [("header", 2)]  # auger's turn: nothing waits
