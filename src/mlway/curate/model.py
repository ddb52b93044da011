"""The per-frame classifier: a narrow ResNet in plain PyTorch (no torchvision).

Input: RGB float32 in [0, 1], (batch, 3, height, width), any size (fully convolutional up to a global
average pool), so one set of weights serves the full and the reduced input size. The per-channel
normalisation is part of the network, so the bundle's preprocessing is only ``pixel / 255``.

    stem   3x3 conv, stride 2 -> BN -> ReLU -> 3x3 conv, stride 2 -> BN -> ReLU   (1/4 of the input)
    stage  BasicBlock x blocks[i], widths[i] channels, stride 2 from the second stage on
    head   global average pool -> dropout -> linear (classes)

At 128x96 with widths (16, 32, 64, 128) and blocks (1, 1, 1, 1): ~0.3 M parameters, ~25 M
multiply-adds per frame; the fp32 ONNX file is ~1.2 MB.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

MEAN = (0.45, 0.45, 0.40)
STD = (0.22, 0.22, 0.22)


def _conv_bn(cin: int, cout: int, stride: int, kernel: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(cin, cout, stride), nn.ReLU(inplace=True), *_conv_bn(cout, cout, 1))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(*_conv_bn(cin, cout, stride, 1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.body(x) + self.shortcut(x))
        return out


class FrameNet(nn.Module):
    """A narrow ResNet for per-frame classification; returns logits."""

    def __init__(
        self, classes: int, widths: Sequence[int] = (16, 32, 64, 128), blocks: Sequence[int] = (1, 1, 1, 1),
        dropout: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__()
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"widths {list(widths)} and blocks {list(blocks)} must be equally long, not empty")
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        stem = widths[0]
        layers: list[nn.Module] = [*_conv_bn(3, stem, 2), nn.ReLU(inplace=True), *_conv_bn(stem, stem, 2),
                                   nn.ReLU(inplace=True)]  # fmt: skip
        cin = stem
        for stage, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            for index in range(count):
                layers.append(BasicBlock(cin, width, 2 if stage > 0 and index == 0 else 1))
                cin = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.pool(self.features(x)).flatten(1)
        out: torch.Tensor = self.head(self.dropout(x))
        return out


class Calibrated(nn.Module):
    """The exported graph: ``(probs, logits)`` with the fitted temperature applied to both."""

    def __init__(self, net: nn.Module, temperature: float) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(image) * self.inv_temperature
        return torch.softmax(logits, dim=1), logits
