"""The catalog: published architecture totals, dated prices, closest-name errors, user overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlway.core.errors import ConfigError, NotFoundError
from mlway.plan import Catalog, load_catalog

REQUIRED_MODELS = [
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b", "qwen2.5-7b", "qwen2.5-14b",
    "qwen2.5-32b", "qwen2.5-72b", "qwen3-8b", "qwen3-32b", "mistral-7b", "mixtral-8x7b", "gemma-2-9b",
    "gemma-2-27b", "phi-3-mini", "bge-m3",
]  # fmt: skip
CALIBRATION_GPUS = ["h100-sxm", "h100-pcie", "h200-sxm", "a100-80gb", "a100-40gb", "l40s", "l4", "a10", "t4",
                    "rtx-4090", "rtx-a6000", "mi300x"]  # fmt: skip


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_parameter_count_from_shapes_matches_the_published_total(catalog: Catalog, name: str) -> None:
    model = catalog.model(name)
    assert model.published_params_b is not None
    assert model.total_params / 1e9 == pytest.approx(model.published_params_b, rel=0.01)


def test_mixtral_activates_two_of_eight_experts(catalog: Catalog) -> None:
    mixtral = catalog.model("mixtral-8x7b")
    # Mistral AI publishes 12.9 B active parameters of 46.7 B.
    assert mixtral.active_params / 1e9 == pytest.approx(12.9, rel=0.02)


def test_bge_m3_is_an_encoder_without_kv_cache(catalog: Catalog) -> None:
    bge = catalog.model("bge-m3")
    assert bge.kind == "encoder"
    assert bge.kv_elements_per_token(1) == 0


@pytest.mark.parametrize("name", CALIBRATION_GPUS)
def test_every_calibration_gpu_has_specs_and_a_dated_price(catalog: Catalog, name: str) -> None:
    gpu = catalog.gpu(name)
    assert gpu.bandwidth_tbs > 0
    assert gpu.tflops_bf16 > 0
    assert gpu.price.usd_per_hour > 0
    assert len(gpu.price.date) == 7


def test_names_aliases_and_hf_ids_resolve(catalog: Catalog) -> None:
    assert catalog.model("meta-llama/Llama-3.1-8B-Instruct").name == "llama-3.1-8b"
    assert catalog.model("LLAMA3.1-8B").name == "llama-3.1-8b"
    assert catalog.gpu("H100").name == "h100-sxm"


def test_unknown_model_lists_the_closest_names(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError) as err:
        catalog.model("llama-3.1-8")
    assert "llama-3.1-8b" in str(err.value)
    assert err.value.exit_code == 2


def test_unknown_gpu_lists_the_closest_names(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError) as err:
        catalog.gpu("h100-sxn")
    assert "h100-sxm" in str(err.value)


def test_unknown_preset_lists_the_closest_names(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError) as err:
        catalog.preset("llama3_1-8b-interactiv")
    assert "llama3_1-8b-interactive" in str(err.value)


def test_user_catalog_changes_a_price_and_adds_a_gpu(user_catalog: Path) -> None:
    user_catalog.mkdir(parents=True)
    (user_catalog / "gpus.yaml").write_text(
        """
gpus:
  - name: l4
    price: {usd_per_hour: 0.42, date: "2026-11", source: "our contract"}
  - name: b200
    arch: blackwell
    memory_gb: 180
    usable_gib: 178
    bandwidth_tbs: 8
    tflops_bf16: 2250
    tflops_fp8: 4500
    interconnect: {kind: nvlink, bandwidth_gbs: 900, latency_us: 10}
    price: {usd_per_hour: 6.0, date: "2026-11", source: "quote"}
""",
        encoding="utf-8",
    )
    catalog = load_catalog()
    assert catalog.gpu("l4").price.usd_per_hour == 0.42
    assert catalog.gpu("l4").bandwidth_tbs == 0.3  # the other fields stay built-in
    assert catalog.gpu("b200").tflops_fp8 == 4500


def test_user_catalog_with_a_bad_entry_names_it(user_catalog: Path) -> None:
    user_catalog.mkdir(parents=True)
    (user_catalog / "models.yaml").write_text("models:\n  - name: tiny\n    num_layers: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_catalog()
    assert "tiny" in str(err.value)
