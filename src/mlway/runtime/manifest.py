"""The model bundle manifest (``mlway-bundle.yaml``): what a model is, its variants and its quota.

A bundle is a directory with this manifest next to the artefacts. Variants are ordered by
preference: the runtime loads the first one that fits the model's quota and the free budget, and
moves down the list when a variant is refused (bad sha256, missing package), fails to load, or
breaches its quota. ``mlway runtime measure`` fills each variant's measured memory and speed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints, model_validator

from mlway.core.errors import InputError
from mlway.core.model import StrictModel
from mlway.core.units import parse_bytes
from mlway.runtime.preprocessing import Preprocessing
from mlway.runtime.tensors import Shape, TensorSpec

MIB = 1024**2
GIB = 1024**3

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


def _relative(value: str) -> str:
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or "\x00" in value or ".." in parts or "" in parts:
        raise ValueError(f"{value!r} must be a '/'-separated path inside the bundle, without '..' or a leading '/'")
    return value


RelPath = Annotated[str, StringConstraints(min_length=1, max_length=400), AfterValidator(_relative)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
OptionValue = str | int | float | bool


def _bytes(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_bytes(value, what="memory")
        except InputError as exc:
            raise ValueError(exc.message + (f" ({exc.hint})" if exc.hint else "")) from exc
    return value


def _human(value: int) -> int | str:
    for unit, size in (("GiB", GIB), ("MiB", MIB)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return value


ByteSize = Annotated[int, BeforeValidator(_bytes), Field(ge=16 * MIB, le=1 << 50), PlainSerializer(_human)]


class VariantFile(StrictModel):
    """One artefact of a variant with the digest that proves it is the file the manifest means."""

    path: RelPath = Field(description="Path relative to the bundle directory, '/'-separated, no '..'.")
    sha256: Sha256 = Field(description="Lowercase hex sha256 of the file; `mlway runtime inspect` checks it.")
    bytes: int | None = Field(default=None, ge=0, le=1 << 50, description="File size in bytes, if recorded.")


class Measurement(StrictModel):
    """Speed and footprint of one variant at one thread count and batch size, on one machine."""

    threads: int = Field(ge=1, le=256, description="Intra-op threads the worker ran with.")
    batch: int = Field(ge=1, le=65536, description="Items per inference call.")
    latency_p50_ms: float = Field(ge=0, description="Median latency of one call, in milliseconds.")
    latency_p90_ms: float = Field(ge=0, description="90th percentile latency of one call, in milliseconds.")
    throughput_per_s: float = Field(ge=0, description="Items per second at this batch size, one call at a time.")
    rss_bytes: int = Field(ge=0, description="Peak resident memory of the worker process during the run.")
    machine: str = Field(max_length=200, description="CPU model and core count the numbers were taken on.")
    measured_at: datetime = Field(description="When the numbers were taken (UTC).")


class Variant(StrictModel):
    """One way to run the model (a precision, an input size, a backend), with its artefacts."""

    name: Name = Field(description="Short unique name within the bundle, e.g. 'fp32', 'int8', 'int8-128px'.")
    backend: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")] = Field(
        description="Backend kind from the runtime's registry: onnxruntime, openvino, rknn-lite.",
    )
    entry: RelPath = Field(description="The file the backend loads (one of `files`).")
    files: list[VariantFile] = Field(min_length=1, max_length=64, description="Every artefact, entry included.")
    input_shapes: dict[str, Shape] = Field(
        default_factory=dict,
        description="Per-input shapes that differ from the model's `inputs` (e.g. a reduced image size).",
    )
    options: dict[str, OptionValue] = Field(
        default_factory=dict, description="Backend-specific settings, e.g. {'device': 'CPU'} for openvino."
    )
    memory_bytes: int | None = Field(
        default=None,
        ge=0,
        le=1 << 50,
        description="Measured peak RSS of a worker serving this variant (written by `mlway runtime measure`).",
    )
    measurements: list[Measurement] = Field(default_factory=list, description="Measured speed on real machines.")
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Quality of this variant, e.g. {'accuracy': 0.97, 'cosine_vs_fp32': 0.996}."
    )
    description: str = Field(default="", max_length=500, description="What differs in this variant.")

    @model_validator(mode="after")
    def _entry_is_a_file(self) -> Self:
        paths = [f.path for f in self.files]
        if self.entry not in paths:
            raise ValueError(f"entry {self.entry!r} is not among the variant's files {paths}; list it in `files`")
        if len(set(paths)) != len(paths):
            raise ValueError(f"files lists a path twice: {paths}")
        return self


class Quota(StrictModel):
    """What one model may use on the device, whichever variant serves."""

    memory: ByteSize = Field(description="Most resident memory the model's worker may use, e.g. '300MiB'.")
    cpu_threads: int = Field(default=1, ge=1, le=256, description="Cores reserved and intra-op threads used.")
    max_concurrency: int = Field(default=1, ge=1, le=1024, description="Requests the worker runs at once.")
    max_queue: int = Field(
        default=64, ge=0, le=100_000, description="Requests waiting beyond max_concurrency; more get 429."
    )


class Batching(StrictModel):
    """Dynamic batching a server applies in front of the worker (the runtime itself runs what it is sent)."""

    max_batch: int = Field(default=1, ge=1, le=65536, description="Most items merged into one call; 1 turns it off.")
    max_delay_ms: float = Field(
        default=0.0, ge=0, le=10_000, description="Longest the first request of a batch waits for others."
    )


class BundleManifest(StrictModel):
    """The manifest of one model bundle (``mlway-bundle.yaml`` or ``mlway-bundle.json``)."""

    mlway_bundle: Literal[1] = Field(default=1, description="Manifest format version; 1 is the only one.")
    name: Name = Field(description="Model name clients use, e.g. 'minilm' or 'harvest-cam'.")
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")] = Field(
        description="Model version, e.g. '1.2.0' or a date; a swap to a new version changes it."
    )
    task: Literal["classify", "embed", "detect", "tensors"] = Field(
        description="What the outputs mean: class scores, embeddings, detections, or plain tensors."
    )
    description: str = Field(default="", max_length=2000, description="One paragraph for people.")
    inputs: list[TensorSpec] = Field(min_length=1, max_length=64, description="Model inputs, in graph order.")
    outputs: list[TensorSpec] = Field(min_length=1, max_length=64, description="Model outputs, in graph order.")
    preprocessing: Preprocessing | None = Field(default=None, description="How raw images or text become inputs.")
    labels: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=100_000, description="Class names in output order (classify, detect)."
    )
    variants: list[Variant] = Field(min_length=1, max_length=32, description="Variants, most preferred first.")
    quota: Quota = Field(description="Memory, CPU and concurrency the model may use.")
    batching: Batching = Field(default_factory=Batching, description="Dynamic batching for servers in front of it.")
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher loads first and may evict lower.")
    pinned: bool = Field(default=False, description="A pinned model is never evicted to make room for another.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"{kind} repeat a name: {names}")
        variant_names = [v.name for v in self.variants]
        if len(set(variant_names)) != len(variant_names):
            raise ValueError(f"variants repeat a name: {variant_names}; give each a unique name")
        inputs = {s.name: s for s in self.inputs}
        for variant in self.variants:
            for name, shape in variant.input_shapes.items():
                if name not in inputs:
                    raise ValueError(
                        f"variant {variant.name!r}: input_shapes names {name!r}, not one of {list(inputs)}"
                    )
                if len(shape) != len(inputs[name].shape):
                    raise ValueError(
                        f"variant {variant.name!r}: input_shapes[{name!r}] has {len(shape)} dims, "
                        f"the input has {len(inputs[name].shape)}"
                    )
        if self.labels is not None and self.task == "classify":
            last = self.outputs[0].shape[-1] if self.outputs[0].shape else None
            if isinstance(last, int) and last != len(self.labels):
                raise ValueError(f"{len(self.labels)} labels for an output of {last} classes; list one per class")
        return self

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    def input_specs(self, variant: Variant) -> list[TensorSpec]:
        """The inputs as ``variant`` expects them (its ``input_shapes`` override the model's)."""
        return [
            spec.with_shape(variant.input_shapes[spec.name]) if spec.name in variant.input_shapes else spec
            for spec in self.inputs
        ]
