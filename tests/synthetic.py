"""Small synthetic datasets and a tiny backbone, so core tests run in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

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


SHAPE_COLORS = {"red": (215, 50, 45), "green": (45, 175, 70), "blue": (50, 80, 210),
                "yellow": (225, 200, 40), "purple": (140, 60, 170), "cyan": (40, 190, 200)}


def _textured_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey-brown background of blotchy low-frequency noise plus fine grain (float, 0-255)."""
    coarse = rng.normal(0, 1, (size // 16 + 2, size // 16 + 2, 3))
    blotches = np.kron(coarse, np.ones((16, 16, 1)))[:size, :size]
    base = rng.uniform(90, 160) + 25 * blotches.mean(axis=2, keepdims=True) + 8 * blotches
    return base + rng.normal(0, 18, (size, size, 3))


def render_shape(rng: np.random.Generator, color: Sequence[int], size: int = 160,
                 decoy: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    """One image: a coloured disc or square on textured noise. Returns (uint8 HxWx3, centre xy).

    With `decoy`, a grey shape of the same kind is drawn elsewhere too.
    """
    img = _textured_noise(rng, size)
    yy, xx = np.mgrid[:size, :size]

    def draw(rgb, avoid=None):
        for _ in range(50):
            r = int(rng.integers(size // 10, size // 5))
            cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
            if avoid is None or np.hypot(cx - avoid[0], cy - avoid[1]) > 2.2 * r + 4:
                break
        mask = ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r) if disc else (
            (abs(xx - cx) <= r * .85) & (abs(yy - cy) <= r * .85))
        shade = np.asarray(rgb, float) * rng.uniform(0.85, 1.1)
        img[mask] = shade + rng.normal(0, 10, (int(mask.sum()), 3))
        return cx, cy

    disc = bool(rng.integers(2))
    center = draw(color)
    if decoy:
        draw((128, 128, 128), avoid=center)
    return np.clip(img, 0, 255).astype(np.uint8), center


def make_shapes_dataset(root: Path, classes: Sequence[str] = ("red", "green", "blue"),
                        train_per_class: int = 60, test_per_class: int = 30, size: int = 160,
                        seed: int = 0, counts: Optional[dict[str, int]] = None) -> Path:
    """Coloured shapes on textured noise, the class is the colour: ROOT/train and ROOT/test.

    A set where ImageNet features alone are not enough (the backbone must adapt to colour):
    fine-tuning should beat feature extraction here. `counts` overrides train images per class
    (for imbalanced sets); val is carved from train by the scan.
    """
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for c in classes:
            k = (counts or {}).get(c, n) if split == "train" else n
            folder = root / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(k):
                pixels, _ = render_shape(rng, SHAPE_COLORS[c], size)
                Image.fromarray(pixels).save(folder / f"{c}_{i:03d}.png")
    return root
