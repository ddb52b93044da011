"""Published measurements mlway plan is checked against.

``CALIBRATION`` holds every measurement of shared/calibration/llm_measurements.md; the other
groups are published measurements that are NOT in that file (held out): the factors were never
chosen against them. Each case states its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlway.plan import ModelSpec

Kind = Literal["max_throughput", "static_tok_s", "static_first", "prefill", "decode", "total", "tg", "pp"]
MemMetric = Literal["weights_gib", "peak_gib", "act_gib", "kv_gib", "blocks", "concurrency", "max_tokens", "file_gib"]

# kipply's FasterTransformer 13B: 40 layers, d_model 5120, 40 heads (GPT-style, 4x MLP, tied embeddings).
FT_13B = ModelSpec(
    name="ft-13b", num_layers=40, hidden_size=5120, num_heads=40, num_kv_heads=40, head_dim=128,
    intermediate_size=20480, vocab_size=50304, tie_embeddings=True, mlp="plain", max_position_embeddings=2048,
    position_embeddings="learned",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One published latency or throughput number and how it was measured."""

    group: str
    label: str
    source: str
    kind: Kind
    model: str | ModelSpec
    gpu: str
    quant: str
    published: float
    tp: int = 1
    kv: str = "auto"
    engine: str = "tensorrt-llm"
    batch: int = 1
    prompt: int = 128
    output: int = 128
    knobs: dict[str, float] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return "s" if self.kind in ("static_first", "prefill", "decode", "total") else "tok/s"


@dataclass(frozen=True)
class MemCase:
    """One published memory number."""

    group: str
    label: str
    source: str
    metric: MemMetric
    model: str
    gpu: str
    published: float
    engine: str = "vllm-v0"
    quant: str = "bf16"
    tp: int = 1
    max_context: int = 4096
    knobs: dict[str, float] = field(default_factory=dict)
    model_update: dict[str, int] = field(default_factory=dict)


CAL = "calibration file"
V10517 = "vLLM issue 10517 (RTX 3090 log)"
TRT_OVERVIEW = "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md"
FT = "kipply's blog (FasterTransformer), via cli99/llm-analysis"
H100VSA100 = "TensorRT-LLM docs/source/blogs/H100vsA100.md (v0.5.0)"
TRT05 = "TensorRT-LLM release/0.5.0 docs/source/performance.md"
LLAMACPP = "XiongjieDai/GPU-Benchmarks-on-LLM-Inference README (llama.cpp, May 2024)"

MEMORY: list[MemCase] = [
    MemCase(CAL, "3090 20k: weights GiB", V10517, "weights_gib", "llama-3.1-8b", "rtx-3090", 14.9888,
            max_context=20000),
    MemCase(CAL, "3090 20k: peak torch GiB", V10517, "peak_gib", "llama-3.1-8b", "rtx-3090", 17.06, max_context=20000),
    MemCase(CAL, "3090 20k: KV cache GiB", V10517, "kv_gib", "llama-3.1-8b", "rtx-3090", 3.81, max_context=20000),
    MemCase(CAL, "3090 20k: GPU blocks", V10517, "blocks", "llama-3.1-8b", "rtx-3090", 1952, max_context=20000),
    MemCase(CAL, "3090 20k: max concurrency", V10517, "concurrency", "llama-3.1-8b", "rtx-3090", 1.56,
            max_context=20000),
    MemCase(CAL, "3090 29k: peak torch GiB", V10517, "peak_gib", "llama-3.1-8b", "rtx-3090", 17.98, max_context=29000),
    MemCase(CAL, "3090 29k: KV cache GiB", V10517, "kv_gib", "llama-3.1-8b", "rtx-3090", 2.89, max_context=29000),
    MemCase(CAL, "3090 29k: GPU blocks", V10517, "blocks", "llama-3.1-8b", "rtx-3090", 1478, max_context=29000),
    MemCase(CAL, "3090 29k: max tokens in KV (refused)", V10517, "max_tokens", "llama-3.1-8b", "rtx-3090", 23648,
            max_context=29000),
]  # fmt: skip

HELD_OUT_MEMORY: list[MemCase] = [
    MemCase("held-out memory", "H100 Llama-3-8B: weights GiB", "vLLM PR 10511 log", "weights_gib", "llama-3.1-8b",
            "h100-sxm", 14.96, max_context=8192, model_update={"max_position_embeddings": 8192}),
    MemCase("held-out memory", "H100 Llama-3-8B: activation peak GiB", "vLLM PR 10511 log", "act_gib",
            "llama-3.1-8b", "h100-sxm", 1.26, max_context=8192, model_update={"max_position_embeddings": 8192}),
    MemCase("held-out memory", "H100 Llama-3-8B: KV cache GiB", "vLLM PR 10511 log", "kv_gib", "llama-3.1-8b",
            "h100-sxm", 53.29, max_context=8192, model_update={"max_position_embeddings": 8192}),
    MemCase("held-out memory", "2xH100 Llama-3-8B TP2: weights GiB", "vLLM PR 10511 log", "weights_gib",
            "llama-3.1-8b", "h100-sxm", 7.48, tp=2, max_context=8192, model_update={"max_position_embeddings": 8192}),
    MemCase("held-out memory", "A100-80GB Llama-2-7B: GPU blocks", "vLLM PR 2031 (Dec 2023)", "blocks",
            "llama-2-7b", "a100-80gb", 7351, max_context=4096),
    MemCase("held-out memory", "4xA100-80GB Llama-2-70B TP4: GPU blocks", "vLLM PR 2031 (Dec 2023)", "blocks",
            "llama-2-70b", "a100-80gb", 20865, tp=4, max_context=4096),
    MemCase("held-out memory", "H100 (assumed) 70B W8A8 util 0.98: weights GiB", "vLLM PR 12569 log (V1)",
            "weights_gib", "llama-3.1-70b", "h100-sxm", 67.7229, engine="vllm", quant="int8", max_context=2048,
            knobs={"gpu_memory_utilization": 0.98}),
    MemCase("held-out memory", "H100 (assumed) 70B W8A8 util 0.98: GPU blocks", "vLLM PR 12569 log (V1)", "blocks",
            "llama-3.1-70b", "h100-sxm", 1381, engine="vllm", quant="int8", max_context=2048,
            knobs={"gpu_memory_utilization": 0.98}),
    MemCase("held-out memory", "Llama 3 8B Q4_K_M GGUF GiB", LLAMACPP, "file_gib", "llama-3.1-8b", "h100-sxm", 4.58,
            quant="gguf-q4_k_m"),
    MemCase("held-out memory", "Llama 3 70B Q4_K_M GGUF GiB", LLAMACPP, "file_gib", "llama-3.1-70b", "h100-sxm",
            39.59, quant="gguf-q4_k_m"),
    MemCase("held-out memory", "Llama 3 70B Q8_0 GGUF GiB", LLAMACPP, "file_gib", "llama-3.1-70b", "h100-sxm", 69.83,
            quant="gguf-q8_0"),
    MemCase("held-out memory", "Llama 3 70B F16 GiB", LLAMACPP, "file_gib", "llama-3.1-70b", "h100-sxm", 131.42),
]  # fmt: skip


def _trt_max(group: str, model: str, gpu: str, tp: int, rows: dict[tuple[int, int], float]) -> list[Case]:
    label = f"TRT {model} {gpu} TP{tp} fp8"

    def case(prompt: int, output: int, value: float) -> Case:
        return Case(group, f"{label} {prompt}/{output}", TRT_OVERVIEW, "max_throughput", model, gpu, "fp8", value,
                    tp=tp, kv="fp8", prompt=prompt, output=output)  # fmt: skip

    return [case(p, o, v) for (p, o), v in rows.items()]


CALIBRATION: list[Case] = [
    *_trt_max(CAL, "llama-3.1-8b", "h100-sxm", 1, {(128, 128): 28312, (1000, 1000): 15220, (2048, 128): 3450}),
    Case(CAL, "FT 13B A100-40GB TP1 prefill 512", FT, "prefill", FT_13B, "a100-40gb", "bf16", 63.17e-3, prompt=512),
    Case(CAL, "FT 13B A100-40GB TP1 decode/token", FT, "decode", FT_13B, "a100-40gb", "bf16", 22.0e-3, prompt=512),
    Case(CAL, "FT 13B A100-40GB TP1 total (10 tok)", FT, "total", FT_13B, "a100-40gb", "bf16", 283.6e-3, prompt=512,
         output=10),
    Case(CAL, "FT 13B A100-40GB TP2 prefill 512", FT, "prefill", FT_13B, "a100-40gb", "bf16", 45.45e-3, tp=2,
         prompt=512),
    Case(CAL, "FT 13B A100-40GB TP2 decode/token", FT, "decode", FT_13B, "a100-40gb", "bf16", 13.5e-3, tp=2,
         prompt=512),
    Case(CAL, "FT 13B A100-40GB TP2 total (10 tok)", FT, "total", FT_13B, "a100-40gb", "bf16", 180.86e-3, tp=2,
         prompt=512, output=10),
    Case(CAL, "GPT-J H100 fp8 b64 tok/s", H100VSA100, "static_tok_s", "gpt-j-6b", "h100-sxm", "fp8", 10907, kv="fp8",
         batch=64),
    Case(CAL, "GPT-J H100 fp8 b64 first token", H100VSA100, "static_first", "gpt-j-6b", "h100-sxm", "fp8", 102e-3,
         kv="fp8", batch=64),
    Case(CAL, "GPT-J A100 fp16 b64 tok/s", H100VSA100, "static_tok_s", "gpt-j-6b", "a100-80gb", "bf16", 3679,
         batch=64),
    Case(CAL, "GPT-J A100 fp16 b64 first token", H100VSA100, "static_first", "gpt-j-6b", "a100-80gb", "bf16", 481e-3,
         batch=64),
    Case(CAL, "GPT-J H100 fp8 b1 tok/s", H100VSA100, "static_tok_s", "gpt-j-6b", "h100-sxm", "fp8", 185, kv="fp8"),
    Case(CAL, "GPT-J H100 fp8 b1 first token", H100VSA100, "static_first", "gpt-j-6b", "h100-sxm", "fp8", 7.1e-3,
         kv="fp8"),
    Case(CAL, "GPT-J A100 fp16 b1 tok/s", H100VSA100, "static_tok_s", "gpt-j-6b", "a100-80gb", "bf16", 111),
    Case(CAL, "GPT-J A100 fp16 b1 first token", H100VSA100, "static_first", "gpt-j-6b", "a100-80gb", "bf16", 12.5e-3),
]  # fmt: skip

_SHAPES = [(128, 128), (128, 2048), (128, 4096), (500, 2000), (1000, 1000), (1000, 2000), (2048, 128), (2048, 2048),
           (5000, 500), (20000, 2000)]  # fmt: skip


def _table(values: list[float]) -> dict[tuple[int, int], float]:
    return dict(zip(_SHAPES, values, strict=True))


_H100_8B = _table([28312, 22714, 14325, 17660, 15220, 13899, 3450, 9305, 3459, 1351])
HO_TRT = "held-out: TRT-LLM perf overview (trtllm-bench, infinite rate)"
HELD_OUT_TRT: list[Case] = [
    *_trt_max(HO_TRT, "llama-3.1-8b", "h100-sxm", 1,
              {k: v for k, v in _H100_8B.items() if k not in ((128, 128), (1000, 1000), (2048, 128))}),
    *_trt_max(HO_TRT, "llama-3.1-8b", "h200-sxm", 1,
              _table([27911, 26221, 18027, 20770, 17744, 16828, 3538, 12194, 3902, 1804])),
    *_trt_max(HO_TRT, "llama-3.3-70b", "h100-sxm", 2,
              _table([6378, 6651, 4199, 5222, 4205, 4146, 762, 3082, 898, 437])),
    *_trt_max(HO_TRT, "llama-3.1-405b", "h100-sxm", 8,
              _table([3627, 4340, 3116, 3994, 2919, 2895, 453, 2296, 610, 345])),
]  # fmt: skip

HO_STATIC = "held-out: TensorRT-LLM v0.5 static batches"


def _static(label: str, model: str, gpu: str, quant: str, batch: int, prompt: int, output: int, value: float,
            tp: int = 1) -> Case:  # fmt: skip
    kv = "fp8" if quant == "fp8" else "auto"
    kind: Kind = "static_first" if output == 1 else "static_tok_s"
    return Case(HO_STATIC, label, TRT05, kind, model, gpu, quant, value, tp=tp, kv=kv, batch=batch, prompt=prompt,
                output=max(output, 1))  # fmt: skip


HELD_OUT_STATIC: list[Case] = [
    _static("H100 fp8 GPT-J b64 128/2048", "gpt-j-6b", "h100-sxm", "fp8", 64, 128, 2048, 6179),
    _static("H100 fp8 GPT-J b64 2048/128", "gpt-j-6b", "h100-sxm", "fp8", 64, 2048, 128, 2229),
    _static("H100 fp8 GPT-J b64 2048/2048", "gpt-j-6b", "h100-sxm", "fp8", 64, 2048, 2048, 2980),
    _static("H100 fp8 Llama-2-7B b64 128/128", "llama-2-7b", "h100-sxm", "fp8", 64, 128, 128, 9193),
    _static("H100 fp8 Llama-2-7B b64 128/2048", "llama-2-7b", "h100-sxm", "fp8", 64, 128, 2048, 5367),
    _static("H100 fp8 Llama-2-7B b64 2048/128", "llama-2-7b", "h100-sxm", "fp8", 64, 2048, 128, 2058),
    _static("H100 fp8 Llama-2-7B b32 2048/2048", "llama-2-7b", "h100-sxm", "fp8", 32, 2048, 2048, 2230),
    _static("H100 fp8 Llama-2-70B TP4 b64 128/128", "llama-2-70b", "h100-sxm", "fp8", 64, 128, 128, 3317, 4),
    _static("H100 fp8 Llama-2-70B TP4 b64 128/2048", "llama-2-70b", "h100-sxm", "fp8", 64, 128, 2048, 2616, 4),
    _static("H100 fp8 Llama-2-70B TP4 b64 2048/128", "llama-2-70b", "h100-sxm", "fp8", 64, 2048, 128, 843, 4),
    _static("H100 fp8 Llama-2-70B TP4 b64 2048/2048", "llama-2-70b", "h100-sxm", "fp8", 64, 2048, 2048, 1583, 4),
    _static("L40S fp8 GPT-J b64 128/128", "gpt-j-6b", "l40s", "fp8", 64, 128, 128, 3630),
    _static("L40S fp8 GPT-J b64 128/2048", "gpt-j-6b", "l40s", "fp8", 64, 128, 2048, 1859),
    _static("L40S fp8 GPT-J b32 2048/128", "gpt-j-6b", "l40s", "fp8", 32, 2048, 128, 616),
    _static("L40S fp8 GPT-J b32 2048/2048", "gpt-j-6b", "l40s", "fp8", 32, 2048, 2048, 757),
    _static("L40S fp8 Llama-2-7B b64 128/128", "llama-2-7b", "l40s", "fp8", 64, 128, 128, 3240),
    _static("L40S fp8 Llama-2-7B b64 128/2048", "llama-2-7b", "l40s", "fp8", 64, 128, 2048, 1622),
    _static("L40S fp8 Llama-2-7B b32 2048/128", "llama-2-7b", "l40s", "fp8", 32, 2048, 128, 581),
    _static("L40S fp8 Llama-2-7B b16 2048/2048", "llama-2-7b", "l40s", "fp8", 16, 2048, 2048, 531),
    _static("H100 fp8 GPT-J first token 2048", "gpt-j-6b", "h100-sxm", "fp8", 1, 2048, 1, 29e-3),
    _static("H100 fp8 Llama-2-7B first token 128", "llama-2-7b", "h100-sxm", "fp8", 1, 128, 1, 7e-3),
    _static("H100 fp8 Llama-2-7B first token 2048", "llama-2-7b", "h100-sxm", "fp8", 1, 2048, 1, 36e-3),
    _static("H100 fp8 Llama-2-70B TP4 first token 128", "llama-2-70b", "h100-sxm", "fp8", 1, 128, 1, 26e-3, 4),
    _static("H100 fp8 Llama-2-70B TP4 first token 2048", "llama-2-70b", "h100-sxm", "fp8", 1, 2048, 1, 109e-3, 4),
    _static("L40S fp8 GPT-J first token 128", "gpt-j-6b", "l40s", "fp8", 1, 128, 1, 12e-3),
    _static("L40S fp8 GPT-J first token 2048", "gpt-j-6b", "l40s", "fp8", 1, 2048, 1, 71e-3),
    _static("L40S fp8 Llama-2-7B first token 128", "llama-2-7b", "l40s", "fp8", 1, 128, 1, 14e-3),
    _static("L40S fp8 Llama-2-7B first token 2048", "llama-2-7b", "l40s", "fp8", 1, 2048, 1, 73e-3),
    _static("A100 fp16 GPT-J first token 2048", "gpt-j-6b", "a100-80gb", "bf16", 1, 2048, 1, 129e-3),
    _static("A100 fp16 Llama-2-7B first token 128", "llama-2-7b", "a100-80gb", "bf16", 1, 128, 1, 16e-3),
    _static("A100 fp16 Llama-2-7B first token 2048", "llama-2-7b", "a100-80gb", "bf16", 1, 2048, 1, 133e-3),
    _static("A100 fp16 Llama-2-70B TP4 first token 128", "llama-2-70b", "a100-80gb", "bf16", 1, 128, 1, 47e-3, 4),
    _static("A100 fp16 Llama-2-70B TP4 first token 2048", "llama-2-70b", "a100-80gb", "bf16", 1, 2048, 1, 377e-3, 4),
]  # fmt: skip

HO_LLAMACPP = "held-out: llama.cpp batch 1"


def _llamacpp(gpu: str, quant: str, kind: Kind, value: float) -> Case:
    label = f"{gpu} Llama-3-8B {quant} {kind}512"
    return Case(HO_LLAMACPP, label, LLAMACPP, kind, "llama-3.1-8b", gpu, quant, value, engine="llama.cpp", prompt=512,
                output=512)  # fmt: skip


HELD_OUT_LLAMACPP: list[Case] = [
    _llamacpp("rtx-3090", "gguf-q4_k_m", "tg", 115.42),
    _llamacpp("rtx-3090", "bf16", "tg", 47.40),
    _llamacpp("rtx-4090", "gguf-q4_k_m", "tg", 130.58),
    _llamacpp("rtx-4090", "bf16", "tg", 54.84),
    _llamacpp("rtx-3090", "gguf-q4_k_m", "pp", 4030.40),
    _llamacpp("rtx-3090", "bf16", "pp", 4444.65),
    _llamacpp("rtx-4090", "gguf-q4_k_m", "pp", 7138.99),
    _llamacpp("rtx-4090", "bf16", "pp", 9382.00),
]

HELD_OUT: list[Case] = [*HELD_OUT_TRT, *HELD_OUT_STATIC, *HELD_OUT_LLAMACPP]
