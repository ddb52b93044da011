import random

import pytest

from mlway.bench.lengths import LengthDist
from mlway.core.errors import InputError


def test_fixed_uniform_normal() -> None:
    rng = random.Random(0)
    assert {LengthDist.parse("512").sample(rng) for _ in range(20)} == {512}
    uniform = [LengthDist.parse("uniform:100-200").sample(rng) for _ in range(2000)]
    assert min(uniform) >= 100
    assert max(uniform) <= 200
    assert 140 < sum(uniform) / len(uniform) < 160
    normal = [LengthDist.parse("normal:512,64").sample(rng) for _ in range(4000)]
    assert 500 < sum(normal) / len(normal) < 524


def test_samples_never_below_one_token() -> None:
    rng = random.Random(1)
    assert min(LengthDist.parse("normal:2,50").sample(rng) for _ in range(500)) >= 1


@pytest.mark.parametrize("text", ["abc", "uniform:300-200", "normal:5", "0"])
def test_bad_forms_show_the_valid_ones(text: str) -> None:
    with pytest.raises(InputError) as info:
        LengthDist.parse(text, what="--input-tokens")
    assert "--input-tokens" in str(info.value)
