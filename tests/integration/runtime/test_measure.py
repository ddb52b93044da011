"""`mlway runtime measure` and `inspect` as a user runs them: real CLI processes and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlway.runtime import load_bundle, measure_bundle


def mlway(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mlway", "runtime", *args], capture_output=True, text=True, timeout=300, env=env,
        check=False,
    )  # fmt: skip


def test_measure_writes_memory_and_speed_into_the_manifest(bundle_copy: Callable[..., Path]) -> None:
    path = bundle_copy("cam")
    result = mlway("measure", str(path), "--threads", "1,2", "--batch", "1,4", "--iterations", "5")
    assert result.returncode == 0, result.stderr
    assert "int8-small" in result.stdout
    manifest = load_bundle(path).manifest
    for variant in manifest.variants:
        assert variant.memory_bytes is not None
        assert variant.memory_bytes > 20 * 1024**2  # a whole worker process: interpreter, numpy, onnxruntime
        assert sorted((m.threads, m.batch) for m in variant.measurements) == [(1, 1), (1, 4), (2, 1), (2, 4)]
        assert all(m.throughput_per_s > 0 and m.latency_p90_ms >= m.latency_p50_ms for m in variant.measurements)
    again = mlway("measure", str(path), "--threads", "1", "--iterations", "3", "--variant", "int8")
    assert again.returncode == 0, again.stderr
    assert len(load_bundle(path).manifest.variant("int8").measurements) == 4  # same setting replaced, not added


def test_measure_reports_a_tampered_variant_and_keeps_the_rest(bundle_copy: Callable[..., Path]) -> None:
    path = bundle_copy("cam")
    (path / "int8.onnx").write_bytes(b"not a model")
    bundle, report = measure_bundle(load_bundle(path), iterations=3, variants=["fp32", "int8"])
    errors = {r.variant: r.error for r in report}
    assert errors["fp32"] is None
    assert "refused: int8.onnx has 11 bytes, the manifest says" in (errors["int8"] or "")
    assert bundle.manifest.variant("fp32").memory_bytes is not None
    assert bundle.manifest.variant("int8").memory_bytes is None


def test_inspect_shows_variants_hash_checks_and_numbers(bundle_copy: Callable[..., Path]) -> None:
    path = bundle_copy("cam")
    original = (path / "int8.onnx").read_bytes()
    (path / "int8.onnx").write_bytes(original[:-8] + b"tampered")  # same size, other bytes
    result = mlway("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert "cam 1.0.0 (classify)" in result.stdout
    assert "sha256 mismatch for int8.onnx" in result.stdout
    assert " ok " in result.stdout
    as_json = mlway("inspect", str(path), "--json")
    assert '"sha256 mismatch for int8.onnx' in as_json.stdout


def test_plan_and_bad_bundles_from_the_cli(bundle_copy: Callable[..., Path], tmp_path: Path) -> None:
    bundle_copy("cam")
    bundle_copy("heavy")
    result = mlway("plan", str(tmp_path), "--memory-budget", "1GiB", "--cpus", "1")
    assert result.returncode == 0, result.stderr
    assert "cores are never shared" in result.stdout
    (tmp_path / "cam" / "mlway-bundle.yaml").write_text("name: cam\nversion: 1\nflavour: spicy\n")
    bad = mlway("inspect", str(tmp_path / "cam"))
    assert bad.returncode == 2
    assert "flavour" in bad.stderr
    missing = mlway("inspect", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "no bundle at" in missing.stderr
