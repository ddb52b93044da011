import pytest

from mlway.core import InputError, format_bytes, format_duration, parse_bytes, parse_duration, parse_int_list


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("120s", 120.0), ("50ms", 0.05), ("2m", 120.0), ("1.5h", 5400.0), ("250us", 0.00025), ("3", 3.0), (0.5, 0.5)],
)
def test_durations_users_type(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "10 parsecs", "-1s", ""])
def test_bad_duration_names_the_value_and_the_form(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_duration(text, what="--duration")
    assert "--duration" in str(info.value)


def test_bytes_binary_and_decimal() -> None:
    assert parse_bytes("6GiB") == 6 * 1024**3
    assert parse_bytes("8GB") == 8 * 10**9
    assert parse_bytes("512MiB") == 512 * 1024**2
    with pytest.raises(InputError, match="512MiB"):
        parse_bytes("six gigs")


def test_int_list() -> None:
    assert parse_int_list("10,50,100") == [10, 50, 100]
    with pytest.raises(InputError, match="--concurrency"):
        parse_int_list("10,x", what="--concurrency")
    with pytest.raises(InputError, match="positive"):
        parse_int_list("0,5")


def test_human_formats() -> None:
    assert format_duration(0.0123) == "12.3 ms"
    assert format_duration(float("nan")) == "-"
    assert format_bytes(6 * 1024**3) == "6.00 GiB"
