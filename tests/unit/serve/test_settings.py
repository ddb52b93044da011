"""Per-model serving settings: read from mlway-serve.yaml, errors name the field, limits name their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlway.core.errors import ConfigError
from mlway.runtime.testing import write_bundle
from mlway.serve import ModelServeSettings, ServeSettings
from mlway.serve.model import limits_for
from mlway.serve.settings import read_model_settings

pytest.importorskip("onnx")


def test_no_file_means_the_server_defaults(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "m", name="m", variants=("fp32",))
    limits = limits_for(bundle, ServeSettings(request_timeout_s=7), read_model_settings(bundle.directory))
    assert (limits.max_batch, limits.max_delay_s, limits.timeout_s) == (32, 0.0, 7)
    assert limits.timeout_setting == "the server's --request-timeout"


def test_the_model_file_overrides_and_is_named(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "m", name="m", variants=("fp32",))
    (bundle.directory / "mlway-serve.yaml").write_text("max_batch_size: 8\nmax_delay_ms: 2\ntimeout_ms: 500\n")
    own = read_model_settings(bundle.directory)
    assert own == ModelServeSettings(max_batch_size=8, max_delay_ms=2, timeout_ms=500)
    limits = limits_for(bundle, ServeSettings(), own)
    assert (limits.max_batch, limits.max_delay_s, limits.timeout_s) == (8, 0.002, 0.5)
    assert "timeout_ms in" in limits.timeout_setting
    assert "mlway-serve.yaml" in limits.timeout_setting


def test_unknown_or_invalid_fields_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "mlway-serve.yaml").write_text("max_batch: 8\n")
    with pytest.raises(ConfigError, match="max_batch: Extra inputs are not permitted"):
        read_model_settings(tmp_path)
    (tmp_path / "mlway-serve.yaml").write_text("timeout_ms: -1\n")
    with pytest.raises(ConfigError, match="timeout_ms"):
        read_model_settings(tmp_path)
