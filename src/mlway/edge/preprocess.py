"""The bundle's declared image preprocessing, applied to one RGB frame: resize, colour, scale, mean/std, layout.

The size comes from the serving variant's input shape (a reduced-size variant gets smaller images).
Resizing uses OpenCV's area filter, as ``mlway curate`` did when the bundled model was trained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlway.core.errors import ConfigError, DependencyMissingError
from mlway.runtime import ImagePreprocessing, TensorSpec


def _cv2() -> Any:
    try:
        import cv2  # noqa: PLC0415 - optional, the edge extra
    except ImportError as exc:
        raise DependencyMissingError.for_extra("opencv-python-headless", "edge") from exc
    return cv2


class ImagePreprocessor:
    """RGB uint8 (h, w, 3) -> the model's input batch of one, as ``spec`` declares."""

    def __init__(self, spec: ImagePreprocessing, tensor: TensorSpec) -> None:
        if tensor.dtype != "float32":
            raise ConfigError(f"input {tensor.name!r} is {tensor.dtype}; the edge agent feeds float32 images")
        dims = tensor.shape[2:4] if spec.layout == "NCHW" else tensor.shape[1:3]
        if len(tensor.shape) != 4 or not all(isinstance(d, int) for d in dims):
            raise ConfigError(
                f"input {tensor.name!r} has shape {tensor.shape}; the agent needs a fixed image size",
                hint="give the variant an input_shapes entry with the height and width it was trained at",
            )
        self.spec = spec
        self.height, self.width = int(dims[0]), int(dims[1])
        channels = 1 if spec.color == "GRAY" else 3
        mean = np.resize(np.asarray(spec.mean, np.float32), channels)
        std = np.resize(np.asarray(spec.std, np.float32), channels)
        self._gain = (np.float32(spec.scale) / std).astype(np.float32)
        self._offset = (mean / std).astype(np.float32)
        self._plain = bool(np.all(self._offset == 0) and np.all(self._gain == self._gain[0]))
        self._cv2 = _cv2()

    def resize(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        if (h, w) == (self.height, self.width):
            return rgb
        mode = self.spec.resize
        if mode == "center-crop":
            side_h, side_w = (h, round(h * self.width / self.height))
            if side_w > w:
                side_h, side_w = round(w * self.height / self.width), w
            top, left = (h - side_h) // 2, (w - side_w) // 2
            rgb = rgb[top : top + side_h, left : left + side_w]
        elif mode == "letterbox":
            ratio = min(self.width / w, self.height / h)
            inner = cv2.resize(rgb, (max(1, round(w * ratio)), max(1, round(h * ratio))), interpolation=cv2.INTER_AREA)
            out = np.zeros((self.height, self.width, 3), np.uint8)
            top, left = (self.height - inner.shape[0]) // 2, (self.width - inner.shape[1]) // 2
            out[top : top + inner.shape[0], left : left + inner.shape[1]] = inner
            return out
        return np.asarray(cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA), np.uint8)

    def __call__(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        image = self.resize(rgb)
        if self.spec.color == "BGR":
            image = image[:, :, ::-1]
        elif self.spec.color == "GRAY":
            image = self._cv2.cvtColor(image, self._cv2.COLOR_RGB2GRAY)[:, :, None]
        if self._plain:
            x = image.astype(np.float32) * self._gain[0]
        else:
            x = image.astype(np.float32) * self._gain - self._offset
        if self.spec.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], np.float32)
