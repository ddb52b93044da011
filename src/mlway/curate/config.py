"""The parameters of one training run, validated; the defaults are those of the bundled harvest-cam model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from mlway.core.model import StrictModel

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")]
Pixels = Annotated[int, Field(ge=16, le=1024)]


class TrainConfig(StrictModel):
    """Everything that decides a training run (with the same data, the same seed gives the same model)."""

    name: Name = Field(default="harvest-cam", description="Bundle (model) name.")
    version: Version = Field(default="1.0.0", description="Bundle version written into the manifest.")
    width: Pixels = Field(default=128, description="Model input width of the full-size variants.")
    height: Pixels = Field(default=96, description="Model input height of the full-size variants.")
    reduced_width: Pixels = Field(default=80, description="Input width of the reduced variant (weak hardware).")
    reduced_height: Pixels = Field(default=60, description="Input height of the reduced variant.")
    widths: list[Annotated[int, Field(ge=4, le=512)]] = Field(
        default=[16, 32, 64, 128], min_length=1, max_length=6, description="Channels of each ResNet stage."
    )
    blocks: list[Annotated[int, Field(ge=1, le=8)]] = Field(
        default=[1, 1, 1, 1], min_length=1, max_length=6, description="Residual blocks per stage."
    )
    epochs: int = Field(default=8, ge=1, le=1000, description="Passes of `samples_per_epoch` frames.")
    samples_per_epoch: int = Field(
        default=8000, ge=16, le=10_000_000, description="Frames drawn (class-balanced) per epoch."
    )
    batch_size: int = Field(default=64, ge=2, le=4096, description="Frames per optimisation step.")
    learning_rate: float = Field(default=3e-3, gt=0, le=1, description="Peak learning rate (one-cycle schedule).")
    weight_decay: float = Field(default=1e-4, ge=0, le=1, description="AdamW weight decay.")
    balance: float = Field(
        default=0.5, ge=0, le=1, description="Sampling weight per frame = class count ** -balance (0: natural mix)."
    )
    reduced_share: float = Field(
        default=0.3, ge=0, le=1, description="Share of batches trained at the reduced input size."
    )
    augment: bool = Field(default=True, description="Random camera pose, light and noise while training.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of weights, sampling and augmentation.")
    frame_step: int = Field(default=1, ge=1, le=1000, description="Use every n-th frame of the videos.")
    validation_machines: list[str] = Field(
        default_factory=list, description="Machines held out for validation; default: the last `val_fraction`."
    )
    val_fraction: float = Field(default=0.25, gt=0, lt=1, description="Share of machines held out by default.")
    min_class_frames: int = Field(
        default=20, ge=1, le=1_000_000, description="Fewer training frames of a class than this is an error."
    )
    calibration_frames: int = Field(default=256, ge=8, le=100_000, description="Frames that calibrate int8.")
    threads: int = Field(default=2, ge=1, le=256, description="Torch and onnxruntime threads.")
    measure: bool = Field(default=True, description="Measure each variant's latency and memory in a runtime worker.")

    @model_validator(mode="after")
    def _shapes(self) -> TrainConfig:
        if len(self.widths) != len(self.blocks):
            raise ValueError(f"widths {self.widths} and blocks {self.blocks} must list one entry per stage")
        if self.reduced_width * self.reduced_height >= self.width * self.height:
            reduced, full = f"{self.reduced_width}x{self.reduced_height}", f"{self.width}x{self.height}"
            raise ValueError(f"reduced size {reduced} must be smaller than the full size {full}")
        return self

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def reduced_size(self) -> tuple[int, int]:
        return (self.reduced_width, self.reduced_height)
