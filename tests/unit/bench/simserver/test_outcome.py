"""Output lengths and injected failures: reproducible from the seed, as a client would rely on."""

from collections import Counter

from mlway.bench.simserver import SimServerConfig
from mlway.bench.simserver.outcome import OutcomePlanner
from mlway.bench.simserver.requests import parse_generation


def _plan(config: SimServerConfig, prompt: str, **body: object) -> tuple[int, str]:
    outcome = OutcomePlanner(config).plan(parse_generation({"prompt": prompt, **body}, chat=False))
    return outcome.output_tokens, outcome.finish_reason


def test_without_early_stops_every_request_gets_max_tokens_or_the_default() -> None:
    config = SimServerConfig(default_max_tokens=33)
    assert _plan(config, "hi", max_tokens=5) == (5, "length")
    assert _plan(config, "hi") == (33, "length")


def test_early_stops_are_shorter_and_the_same_for_the_same_prompt() -> None:
    config = SimServerConfig(eos_probability=0.05)
    lengths = [_plan(config, f"prompt number {i}", max_tokens=100) for i in range(50)]
    assert any(reason == "stop" and n < 100 for n, reason in lengths)
    assert len({n for n, _ in lengths}) > 5
    assert lengths == [_plan(config, f"prompt number {i}", max_tokens=100) for i in range(50)]
    other_seed = config.model_copy(update={"seed": 1})
    assert lengths != [_plan(other_seed, f"prompt number {i}", max_tokens=100) for i in range(50)]


def test_ignore_eos_always_gets_the_full_length() -> None:
    config = SimServerConfig(eos_probability=0.5)
    assert all(_plan(config, f"p {i}", max_tokens=40, ignore_eos=True) == (40, "length") for i in range(20))


def test_min_tokens_holds_off_early_stops() -> None:
    config = SimServerConfig(eos_probability=0.5)
    assert all(_plan(config, f"p {i}", max_tokens=40, min_tokens=30)[0] >= 30 for i in range(20))


def test_failures_follow_the_rate_and_the_kinds() -> None:
    never = OutcomePlanner(SimServerConfig())
    request = parse_generation({"prompt": "hi"}, chat=False)
    assert all(never.plan(request).fault is None for _ in range(100))
    planner = OutcomePlanner(SimServerConfig(fail_rate=0.5, failure_kinds=["http_500", "disconnect"], seed=3))
    faults = Counter(planner.plan(request).fault for _ in range(1000))
    assert set(faults) == {None, "http_500", "disconnect"}
    assert 400 < faults[None] < 600
    again = OutcomePlanner(SimServerConfig(fail_rate=0.5, failure_kinds=["http_500", "disconnect"], seed=3))
    assert Counter(again.plan(request).fault for _ in range(1000)) == faults
