"""LinkProfile: presets, validation, the CLI value parsers, the shared pacer and seeded fault offsets."""

from __future__ import annotations

import random
import statistics

import pytest
from pydantic import ValidationError

from mlway.core.errors import ConfigError, InputError
from mlway.sim.link_connection import fault_offset
from mlway.sim.link_engine import Pacer
from mlway.sim.link_profile import LinkProfile, parse_latency, parse_schedule


def test_gsm_2g_is_a_slow_laggy_faulty_link() -> None:
    p = LinkProfile.gsm_2g()
    assert p.up_bps is not None
    assert 30_000 <= p.up_bps <= 50_000
    assert p.down_bps is not None
    assert 30_000 <= p.down_bps <= 50_000
    assert (p.latency_min_s, p.latency_max_s) == (0.3, 1.0)
    assert p.reset_per_kb > 0
    assert p.stall_per_kb > 0


def test_perfect_is_a_plain_relay() -> None:
    p = LinkProfile.perfect()
    assert p.up_bps is None
    assert p.down_bps is None
    assert p.latency_max_s == 0
    assert p.reset_per_kb == 0
    assert p.stall_per_kb == 0
    assert p.schedule == []


def test_presets_take_overrides() -> None:
    p = LinkProfile.preset("2g", seed=9, reset_per_kb=0.0, schedule=[(60.0, 30.0)])
    assert (p.seed, p.reset_per_kb, p.schedule, p.latency_max_s) == (9, 0.0, [(60.0, 30.0)], 1.0)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="unknown link profile '3g'") as info:
        LinkProfile.preset("3g")
    assert info.value.hint is not None
    assert "2g" in info.value.hint
    assert "perfect" in info.value.hint


def test_a_bad_override_names_the_field() -> None:
    with pytest.raises(ConfigError, match="up_bps"):
        LinkProfile.preset("2g", up_bps=-5)


@pytest.mark.parametrize(
    "fields",
    [
        {"latency_min_s": 1.0, "latency_max_s": 0.5},
        {"schedule": [(0.0, 5.0)]},
        {"schedule": [(5.0, -1.0)]},
        {"reset_per_kb": 1.0},
        {"unknown": 1},
    ],
)
def test_invalid_profiles_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LinkProfile(**fields)  # type: ignore[arg-type]


def test_describe_reads_like_the_cli_options() -> None:
    text = LinkProfile.gsm_2g(schedule=[(60.0, 30.0)]).describe()
    assert "40 kbit/s up" in text
    assert "latency 300-1000 ms" in text
    assert "schedule 60s-up,30s-down" in text


@pytest.mark.parametrize(("text", "expected"), [("300ms-1s", (0.3, 1.0)), ("500ms", (0.5, 0.5)), ("0-2s", (0.0, 2.0))])
def test_parse_latency(text: str, expected: tuple[float, float]) -> None:
    assert parse_latency(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["1s-300ms", "1s-2s-3s", "fast", "-1s"])
def test_parse_latency_rejects_bad_values(text: str) -> None:
    with pytest.raises(InputError, match="invalid latency") as info:
        parse_latency(text)
    assert info.value.hint is not None


def test_parse_schedule() -> None:
    assert parse_schedule("60s-up,30s-down") == [(60.0, 30.0)]
    assert parse_schedule("2m-up, 500ms-down, 1h-up, 0s-down") == [(120.0, 0.5), (3600.0, 0.0)]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("30s-down,60s-up", "should be <duration>-up"),
        ("60s-up", "ends with an up period"),
        ("60s-up,60s-up", "should be <duration>-down"),
        ("0s-up,5s-down", "longer than 0 s"),
        ("", "empty"),
        ("abc-up,1s-down", "invalid schedule period"),
    ],
)
def test_parse_schedule_rejects_bad_values(text: str, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_schedule(text)


def test_pacer_sends_bookings_one_after_another() -> None:
    pacer = Pacer(8000.0)  # 1000 bytes/s
    assert pacer.reserve(1000, now=0.0) == pytest.approx(1.0)
    assert pacer.reserve(500, now=0.2) == pytest.approx(1.5)  # queued behind the first booking
    assert pacer.reserve(100, now=10.0) == pytest.approx(10.1)  # an idle link does not bank credit


def test_unlimited_pacer_never_waits() -> None:
    assert Pacer(None).reserve(10**9, now=3.0) == 3.0


def test_fault_offsets_are_seeded_and_have_the_configured_rate() -> None:
    first = [fault_offset(random.Random(f"7:{n}"), 0.01) for n in range(3000)]
    again = [fault_offset(random.Random(f"7:{n}"), 0.01) for n in range(3000)]
    assert first == again
    # a fault per KiB with probability 0.01: on average ~100 KiB carried before it strikes
    assert 90 * 1024 < statistics.mean(first) < 110 * 1024
    survived_10k = sum(offset > 10 * 1024 for offset in first) / len(first)
    assert survived_10k == pytest.approx(0.99**10, abs=0.03)


def test_no_fault_rate_means_no_fault() -> None:
    assert fault_offset(random.Random(1), 0.0) == float("inf")
