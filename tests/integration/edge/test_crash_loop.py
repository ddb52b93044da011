"""Crash loop, short: `mlway edge run` SIGKILLed again and again while the link flaps and the hub is killed.

The harness is benchmarks/edge/crash_loop.py (the benchmark runs it with 200+ kills); here a shorter loop
checks the same promise: the hub ends with exactly the records the agent's outbox confirmed, none lost,
none stored twice, and at every kill each record the outbox had deleted was already on the hub.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    path = ROOT / "benchmarks" / "edge" / "crash_loop.py"
    spec = importlib.util.spec_from_file_location("mlway_bench_crash_loop", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:  # the harness imports its sibling machine_info, as when run as a script
        sys.path.insert(0, str(path.parent))
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def assert_exact(r: Any) -> None:
    assert r.violations == []  # each kill: last seq never went down, every deleted record was on the hub
    assert (r.lost, r.extra, r.duplicated, r.pending_at_end) == (0, 0, 0, 0)
    assert r.hub_records == r.hub_distinct == r.last_seq > 0
    assert r.events_open_on_hub == 0  # events a kill left open were ended (interrupted) by the next start


def test_agent_killed_under_a_flapping_link_and_hub_restarts_loses_and_repeats_nothing(
    harness: ModuleType, shift: Path, tmp_path: Path
) -> None:
    plan = harness.Plan(kills=16, seed=11, life_s=(0.5, 4.0), hub_kill_p=0.5, latency_s=(0.05, 0.3))
    result = harness.run(plan, tmp_path, shift, progress=lambda _: None)
    assert_exact(result)
    assert result.agent_kills == 16
    assert result.hub_kills >= 1
    assert result.link_flaps >= 1
    assert result.hub_events > 0
    assert result.hub_event_records > result.hub_events
    assert result.events_interrupted >= 1  # 16 kills during a shift of long events leave some open


def test_hub_killed_mid_batch_loses_and_repeats_nothing(harness: ModuleType, shift: Path, tmp_path: Path) -> None:
    plan = harness.Plan(kills=8, seed=12, life_s=(1.0, 4.0), mid_batch=True, answer_kill_p=0.5)
    result = harness.run(plan, tmp_path, shift, progress=lambda _: None)
    assert_exact(result)
    assert result.hub_kills == result.agent_kills == 8
    assert result.hub_kills_mid_batch >= 1  # upload bytes were crossing the link when the hub died
