"""The exported graph computes what the torch network computes, at any input size, temperature included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from mlway.curate.calibration import softmax  # noqa: E402
from mlway.curate.export import export_onnx, quantize_int8  # noqa: E402
from mlway.curate.inference import session  # noqa: E402
from mlway.curate.model import FrameNet  # noqa: E402


@pytest.fixture(scope="module")
def net() -> FrameNet:
    torch.manual_seed(0)
    model = FrameNet(4, widths=(8, 16), blocks=(1, 1))
    model.train()
    with torch.no_grad():  # give batch norm non-trivial running statistics
        for _ in range(3):
            model(torch.rand(8, 3, 48, 64))
    return model.eval()


def test_onnx_matches_torch_with_the_temperature_applied(net: FrameNet, tmp_path: Path) -> None:
    path = export_onnx(net, 2.5, tmp_path / "fp32.onnx", (64, 48))
    run = session(path)
    for height, width in [(48, 64), (30, 40)]:
        x = np.random.default_rng(1).random((3, 3, height, width), dtype=np.float32)
        probs, logits = run.run(["probs", "logits"], {"image": x})
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy() / 2.5
        np.testing.assert_allclose(logits, expected, atol=1e-4)
        np.testing.assert_allclose(probs, softmax(expected), atol=1e-5)
    assert path.read_bytes() == export_onnx(net, 2.5, tmp_path / "again.onnx", (64, 48)).read_bytes()


def test_int8_stays_close_to_fp32(net: FrameNet, tmp_path: Path) -> None:
    fp32 = export_onnx(net, 1.0, tmp_path / "fp32.onnx", (64, 48))
    frames = np.random.default_rng(2).random((32, 3, 48, 64), dtype=np.float32)
    int8 = quantize_int8(fp32, tmp_path / "int8.onnx", frames)
    import onnx  # noqa: PLC0415

    ops = [node.op_type for node in onnx.load(str(int8)).graph.node]
    assert "QuantizeLinear" in ops  # static QDQ: activations quantized with calibrated ranges
    assert "DynamicQuantizeLinear" not in ops
    assert ops[-1] == "Softmax"  # probabilities stay in float
    a = session(fp32).run(["probs"], {"image": frames})[0]
    b = session(int8).run(["probs"], {"image": frames})[0]
    assert np.abs(a - b).max() < 0.1
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-5)
