"""Declared preprocessing: how a raw image or text becomes a model's input tensors.

The runtime stores and validates it; the server and the edge agent apply it (the image size comes
from the serving variant's input shape, so a reduced-size variant gets smaller images).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlway.core.model import StrictModel


class ImagePreprocessing(StrictModel):
    """Resize and normalise an image: ``(pixel * scale - mean) / std`` per channel."""

    kind: Literal["image"] = Field(default="image", description="Selects image preprocessing.")
    input: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Name of the input tensor the image feeds."
    )
    layout: Literal["NCHW", "NHWC"] = Field(default="NCHW", description="Axis order of the input tensor.")
    color: Literal["RGB", "BGR", "GRAY"] = Field(default="RGB", description="Channel order the model expects.")
    resize: Literal["stretch", "letterbox", "center-crop"] = Field(
        default="stretch", description="How an image of another aspect ratio is fitted to the input size."
    )
    scale: float = Field(default=1 / 255, gt=0, le=1, description="Factor applied to 0-255 pixel values first.")
    mean: list[float] = Field(default=[0.0, 0.0, 0.0], min_length=1, max_length=4, description="Per channel.")
    std: list[Annotated[float, Field(gt=0)]] = Field(
        default=[1.0, 1.0, 1.0], min_length=1, max_length=4, description="Per channel, after mean."
    )


class TextPreprocessing(StrictModel):
    """Tokenise text with a tokenizer shipped in the bundle, and pool token embeddings."""

    kind: Literal["text"] = Field(default="text", description="Selects text preprocessing.")
    tokenizer: Annotated[str, StringConstraints(min_length=1, max_length=400)] = Field(
        description="Directory of a Hugging Face tokenizer, relative to the bundle."
    )
    max_length: int = Field(default=256, ge=1, le=65536, description="Tokens per text; longer texts are cut.")
    pooling: Literal["mean", "cls", "none"] = Field(
        default="mean", description="How token vectors become one embedding (embed task)."
    )
    normalize: bool = Field(default=True, description="Scale embeddings to unit length.")


Preprocessing = Annotated[ImagePreprocessing | TextPreprocessing, Field(discriminator="kind")]
