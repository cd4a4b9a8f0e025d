"""Small synthetic datasets and a tiny backbone, so core tests run in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from transfer_gui.core.models.spec import BackboneSpec, Preprocessing

COLORS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (40, 60, 200)}


def make_color_dataset(root: Path, classes: Sequence[str] = ("red", "green", "blue"),
                       per_class: int = 12, size: int = 48, layout: str = "classes",
                       seed: int = 0, ext: str = ".png") -> Path:
    """Noisy images whose dominant colour is the class. layout: "classes" or "splits" (train/val)."""
    rng = np.random.default_rng(seed)
    for c in classes:
        base = np.array(COLORS.get(c, rng.integers(0, 255, 3)), dtype=float)
        for i in range(per_class):
            split = ("train" if i < per_class * 2 // 3 else "val") if layout == "splits" else ""
            folder = root / split / c if split else root / c
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.clip(base + rng.normal(0, 35, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{c}_{i:03d}{ext}")
    return root


class TinyNet(nn.Module):
    """Two conv blocks and global pooling: (B, 3, 32, 32) -> (B, 16)."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.block2(self.block1(x))).flatten(1)


def tiny_spec(weights_path: Path, name: str = "tiny_test") -> BackboneSpec:
    """A registry entry for TinyNet whose "pretrained" weights are the file at `weights_path`."""
    if not weights_path.exists():
        torch.manual_seed(123)
        torch.save(TinyNet().state_dict(), weights_path)
    return BackboneSpec(
        name=name, display_name="Tiny test net", family="custom", num_params=1_400,
        gflops=0.0001, imagenet_top1=0.0,
        preprocessing=Preprocessing(32, 36, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        feature_dim=16, cam_layer="block2", build_network=TinyNet, strip_head=lambda net: net,
        stages=lambda net: [net.block1, net.block2], bundled_weights_path=lambda: weights_path)
