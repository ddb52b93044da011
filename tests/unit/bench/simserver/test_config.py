"""Config validation: what a user gets back for a bad value, from Python, JSON or the command line."""

import pytest

from mlway.bench.simserver import SimServerConfig, validate_config
from mlway.cli.bench_simserver import sim_server_config
from mlway.core.errors import ConfigError, InputError


def test_durations_may_be_written_with_units() -> None:
    config = validate_config({"ttft": "50ms", "itl": "0.01", "prefill_per_token": "100us"})
    assert (config.ttft, config.itl, config.prefill_per_token) == pytest.approx((0.05, 0.01, 1e-4))


def test_a_bad_value_names_the_field_the_value_and_the_bound() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"ttft": -1, "max_batch": 0})
    message = str(caught.value)
    assert "ttft = -1" in message
    assert "max_batch = 0" in message
    assert "greater than or equal to 1" in message


def test_a_bad_duration_says_how_to_write_one() -> None:
    with pytest.raises(ConfigError, match=r"itl = 'soon'.*250ms"):
        validate_config({"itl": "soon"})


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"max_batch_size.*Extra inputs are not permitted"):
        validate_config({"max_batch_size": 4})


def test_unknown_failure_kinds_list_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'boom'.*'http_500', 'http_429', 'malformed_sse'"):
        validate_config({"failure_kinds": ["boom"]})


def test_all_delays_zero_is_capacity_mode() -> None:
    assert SimServerConfig(ttft=0, itl=0).capacity_mode
    assert not SimServerConfig(ttft=0, itl=0, prefill_per_token=1e-6).capacity_mode
    assert not SimServerConfig().capacity_mode


def test_the_command_line_defaults_are_the_config_defaults() -> None:
    assert sim_server_config() == SimServerConfig()


def test_command_line_errors_name_the_option() -> None:
    with pytest.raises(InputError, match="--ttft"):
        sim_server_config(ttft="fast")
    with pytest.raises(ConfigError, match=r"--max-batch = 0.*--fail-kinds = 'boom'"):
        sim_server_config(max_batch=0, fail_kinds="http_500,boom")


def test_command_line_values_reach_the_config() -> None:
    config = sim_server_config(ttft="5ms", itl="1ms", max_batch=1, fail_kinds="disconnect, http_429")
    assert (config.ttft, config.itl, config.max_batch) == pytest.approx((0.005, 0.001, 1))
    assert config.failure_kinds == ["disconnect", "http_429"]
