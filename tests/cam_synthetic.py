"""Synthetic data, a small GAP classifier and metrics for verifying the CAM core.

Images are textured 128x128 RGB pictures holding one saturated coloured shape (its colour is the
class) and a grey decoy of the same shape elsewhere, so where the evidence lies is known exactly.
Everything is seeded and runs on the CPU in seconds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

SIZE = 128
CLASS_NAMES = ("red", "green", "blue")
# Saturated class colours (RGB in [0, 1]); the background and decoy stay near grey.
CLASS_COLORS = np.array([(0.88, 0.10, 0.10), (0.10, 0.78, 0.15), (0.12, 0.22, 0.92)])

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), x1/y1 exclusive


# ----------------------------------------------------------------------------------- dataset


@dataclass
class SyntheticSet:
    images: np.ndarray        # (N, 3, H, W) uint8
    labels: np.ndarray        # (N,) int64
    boxes: np.ndarray         # (N, 4) the coloured object's box (x0, y0, x1, y1)
    decoy_boxes: np.ndarray   # (N, 4) the grey decoy's box

    def __len__(self) -> int:
        return len(self.labels)

    def tensor(self, index=slice(None)) -> torch.Tensor:
        return to_tensor(self.images[index])


@dataclass
class TwoObjectSet:
    images: np.ndarray        # (N, 3, H, W) uint8
    labels: np.ndarray        # (N, 2) the two objects' classes (different)
    boxes: np.ndarray         # (N, 2, 4) their boxes

    def __len__(self) -> int:
        return len(self.labels)

    def tensor(self, index=slice(None)) -> torch.Tensor:
        return to_tensor(self.images[index])


def subset(data: SyntheticSet, n: int) -> SyntheticSet:
    """The first `n` images of `data` (its classes are already shuffled, so roughly balanced)."""
    return SyntheticSet(data.images[:n], data.labels[:n], data.boxes[:n], data.decoy_boxes[:n])


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) linear-interpolation weights, corners aligned."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] = 1 - frac
    m[np.arange(n_out), lo + 1] = frac
    return m


def _smooth_noise(rng: np.random.Generator, channels: int, grid: int, size: int) -> np.ndarray:
    """(channels, size, size) low-frequency noise: a random grid, linearly interpolated."""
    m = _interp_matrix(size, grid)
    g = rng.normal(size=(channels, grid, grid))
    return np.einsum("ij,cjk,lk->cil", m, g, m)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Near-grey texture: coarse + finer luminance blobs, a faint colour cast, per-pixel grain."""
    lum = (0.5 + 0.12 * _smooth_noise(rng, 1, 5, size) + 0.06 * _smooth_noise(rng, 1, 17, size))
    tint = 0.03 * _smooth_noise(rng, 3, 4, size)
    return lum + tint


def _shape_mask(kind: str, box: Box, size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((size, size), bool)
    if kind == "square":
        mask[y0:y1, x0:x1] = True
    else:  # disc inscribed in the box
        yy, xx = np.mgrid[0:size, 0:size]
        cx, cy, r = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2, (x1 - x0) / 2
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    return mask


def _overlaps(a: Box, b: Box, margin: int) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0]
                or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def _place(rng: np.random.Generator, side: int, size: int, others: list[Box],
           margin: int = 6) -> Box:
    for _ in range(1000):
        x0, y0 = (int(v) for v in rng.integers(2, size - side - 2, 2))
        box = (x0, y0, x0 + side, y0 + side)
        if not any(_overlaps(box, o, margin) for o in others):
            return box
    raise RuntimeError("could not place a non-overlapping object")


def _finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = img + rng.normal(0, 0.03, img.shape)  # grain over everything, objects included
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_dataset(n: int, seed: int, size: int = SIZE, side_range: tuple[int, int] = (24, 32),
                 num_classes: int = 3) -> SyntheticSet:
    """`n` images, classes balanced and shuffled; one coloured object and one grey decoy each."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % num_classes)
    images = np.empty((n, 3, size, size), np.uint8)
    boxes = np.empty((n, 4), np.int64)
    decoys = np.empty((n, 4), np.int64)
    for i in range(n):
        img = _background(rng, size)
        side = int(rng.integers(side_range[0], side_range[1] + 1))
        kind = "square" if rng.random() < 0.5 else "disc"
        box = _place(rng, side, size, [])
        decoy = _place(rng, side, size, [box])
        grey = rng.uniform(0.35, 0.65)
        color = CLASS_COLORS[labels[i]] * rng.uniform(0.85, 1.0)
        img[:, _shape_mask(kind, decoy, size)] = grey
        img[:, _shape_mask(kind, box, size)] = color[:, None]
        images[i] = _finish(img, rng)
        boxes[i], decoys[i] = box, decoy
    return SyntheticSet(images, labels.astype(np.int64), boxes, decoys)


def make_two_object_dataset(n: int, seed: int, size: int = SIZE,
                            side_range: tuple[int, int] = (24, 32),
                            num_classes: int = 3) -> TwoObjectSet:
    """`n` images each holding two coloured objects of different classes, no decoy."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, size, size), np.uint8)
    labels = np.empty((n, 2), np.int64)
    boxes = np.empty((n, 2, 4), np.int64)
    for i in range(n):
        img = _background(rng, size)
        pair = rng.choice(num_classes, 2, replace=False)
        placed: list[Box] = []
        for k, c in enumerate(pair):
            side = int(rng.integers(side_range[0], side_range[1] + 1))
            kind = "square" if rng.random() < 0.5 else "disc"
            box = _place(rng, side, size, placed)
            placed.append(box)
            color = CLASS_COLORS[c] * rng.uniform(0.85, 1.0)
            img[:, _shape_mask(kind, box, size)] = color[:, None]
            boxes[i, k] = box
        labels[i] = pair
        images[i] = _finish(img, rng)
    return TwoObjectSet(images, labels, boxes)


def mean_color(images: np.ndarray) -> torch.Tensor:
    """The dataset's mean colour, (3,) float in [0, 1]."""
    return torch.from_numpy(images.reshape(len(images), 3, -1).mean(axis=(0, 2)) / 255.0).float()


# ------------------------------------------------------------------------------------- model


def _block(cin: int, cout: int, stride: int, dilation: int = 1) -> nn.Sequential:
    # A 4x4 kernel for the stride-2 blocks keeps output cell i centred on input 2i + 0.5, the
    # same grid bilinear upsampling (align_corners=False) assumes; 3x3/2 would shift it by 0.5.
    kernel = 4 if stride == 2 else 3
    padding = 1 if stride == 2 else dilation
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class CamNet(nn.Module):
    """4 conv-bn-relu blocks (two stride-2), global average pooling, linear head.

    (B, 3, 128, 128) in [0, 1] -> logits (B, num_classes). block4's output is 32x32. block3 and
    block4 are dilated so a block4 cell sees 42 px, more than an object: with 26 px the centre
    cells see only flat colour and Grad-CAM's peak often sits on the object's edge, one cell out.
    """

    FEATURE_SIZE = 32
    BLOCKS = ("block1", "block2", "block3", "block4")

    def __init__(self, num_classes: int = 3, widths: tuple[int, int, int, int] = (16, 32, 32, 64)):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))
        self.block1 = _block(3, widths[0], 2)           # 64x64
        self.block2 = _block(widths[0], widths[1], 2)   # 32x32
        self.block3 = _block(widths[1], widths[2], 1, dilation=2)
        self.block4 = _block(widths[2], widths[3], 1, dilation=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(widths[3], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.block4(self.block3(self.block2(self.block1(x))))
        return self.head(self.pool(x).flatten(1))


def train_model(data: SyntheticSet, *, labels: np.ndarray | None = None, seed: int = 0,
                epochs: int = 5, batch_size: int = 32, lr: float = 3e-3) -> CamNet:
    """AdamW from scratch; deterministic for a given seed. `labels` overrides data.labels."""
    torch.manual_seed(seed)
    model = CamNet()
    y_all = torch.from_numpy(data.labels if labels is None else labels)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(data) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen).numpy()
        for start in range(0, len(data), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(data.tensor(idx)), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = torch.cat([F.softmax(model(x[i:i + batch_size]), 1)
                     for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, data: SyntheticSet) -> float:
    probs = predict_proba(model, data.tensor())
    return float((probs.argmax(1).numpy() == data.labels).mean())


def reinitialise(module: nn.Module, seed: int) -> None:
    """Fresh random weights (the layers' own default init) for every submodule of `module`."""
    torch.manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # running stats too: the layer forgets its training
        elif hasattr(m, "reset_parameters"):
            m.reset_parameters()


def cascading_randomisations(model: CamNet, target_block: str, seed: int = 1234):
    """Yields (step_name, model) re-initialising the head, then blocks from the last down.

    Steps are cumulative and go down to block1; the one named `target_block` is the step after
    which the target layer itself has been re-initialised.
    """
    m = copy.deepcopy(model).eval()
    reinitialise(m.head, seed)
    yield "head", m
    for k, name in enumerate(reversed(CamNet.BLOCKS)):
        m = copy.deepcopy(m).eval()
        reinitialise(getattr(m, name), seed + 1 + k)
        yield name, m


# ----------------------------------------------------------------------------------- metrics


def peak_positions(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, 2) (x, y) of each map's argmax (first in raster order on ties)."""
    n, h, w = maps.shape
    flat = maps.reshape(n, -1).argmax(1)
    return np.stack([flat % w, flat // w], 1)


def in_box(points: np.ndarray, boxes: np.ndarray, tol: float) -> np.ndarray:
    """points (N, 2) x,y pixel indices; boxes (N, 4) exclusive ends; `tol` px on each side."""
    x, y = points[:, 0], points[:, 1]
    return ((x >= boxes[:, 0] - tol) & (x <= boxes[:, 2] - 1 + tol)
            & (y >= boxes[:, 1] - tol) & (y <= boxes[:, 3] - 1 + tol))


def pointing_hits(maps: np.ndarray, boxes: np.ndarray, tol: float) -> np.ndarray:
    return in_box(peak_positions(maps), boxes, tol)


def half_cell_tolerance(input_size: int, feature_size: int) -> float:
    return input_size / feature_size / 2


def random_maps(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, size, size)).astype(np.float32)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two maps (ties averaged); 0 where either map is constant."""
    ra, rb = rankdata(a.ravel()), rankdata(b.ravel())
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _orders(maps: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image pixel orders: most important first (ties broken by the random order), random."""
    n = len(maps)
    flat = maps.reshape(n, -1)
    rng = np.random.default_rng(seed)
    random_order = np.stack([rng.permutation(flat.shape[1]) for _ in range(n)])
    tie_rank = np.empty_like(random_order)
    np.put_along_axis(tie_rank, random_order, np.arange(flat.shape[1])[None].repeat(n, 0), 1)
    cam_order = np.stack([np.lexsort((tie_rank[i], -flat[i])) for i in range(n)])
    return cam_order, random_order


def _curve(model: nn.Module, x: torch.Tensor, targets: np.ndarray, order: np.ndarray,
           fill: torch.Tensor, steps: int, insertion: bool) -> np.ndarray:
    """(N, steps + 1) target probability as k/steps of the pixels are removed (or inserted)."""
    n, c, h, w = x.shape
    hw = h * w
    base = fill.view(1, 3, 1).expand(n, 3, hw)
    src = x.reshape(n, c, hw)
    tgt = torch.as_tensor(targets)
    probs = []
    for k in range(steps + 1):
        count = round(hw * k / steps)
        chosen = torch.zeros(n, hw, dtype=torch.bool)
        if count:
            chosen.scatter_(1, torch.from_numpy(order[:, :count]), True)
        chosen = chosen[:, None]
        img = torch.where(chosen, src, base) if insertion else torch.where(chosen, base, src)
        p = predict_proba(model, img.reshape(n, c, h, w))
        probs.append(p[torch.arange(n), tgt].numpy())
    return np.stack(probs, 1)


def auc(curve: np.ndarray) -> np.ndarray:
    """Trapezoid rule over the fraction axis [0, 1], per row."""
    xs = np.linspace(0, 1, curve.shape[-1])
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    return trapezoid(curve, xs, axis=-1)


@dataclass
class Faithfulness:
    deletion_auc: float
    deletion_auc_random: float
    insertion_auc: float
    insertion_auc_random: float


def deletion_insertion(model: nn.Module, x: torch.Tensor, targets: np.ndarray, maps: np.ndarray,
                       fill: torch.Tensor, steps: int = 16, seed: int = 0) -> Faithfulness:
    """Mean deletion/insertion AUCs over the images, by the maps' order and by a random order."""
    cam_order, random_order = _orders(maps, seed)
    run = lambda order, ins: float(auc(_curve(model, x, targets, order, fill, steps, ins)).mean())
    return Faithfulness(run(cam_order, False), run(random_order, False),
                        run(cam_order, True), run(random_order, True))


# ------------------------------------------------- stand-in Grad-CAM (reference, for cross-checks)


@dataclass
class ReferenceCam:
    maps: torch.Tensor   # (B, H, W) in [0, 1]
    raw: torch.Tensor    # (B, h, w) ReLU(sum_k alpha_k A_k)


def reference_gradcam(model: nn.Module, x: torch.Tensor, layer: nn.Module,
                      targets: list[int]) -> ReferenceCam:
    """Plain Grad-CAM (Selvaraju et al.): ReLU(sum_k mean(dy_c/dA_k) A_k), bilinear upsampling,
    per-image min-max normalisation (all-zero maps stay zero)."""
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    was_training = model.training
    model.eval()
    try:
        logits = model(x)
        a = store["a"]
        score = logits[torch.arange(len(x)), torch.as_tensor(targets)].sum()
        (grad,) = torch.autograd.grad(score, a)
    finally:
        handle.remove()
        model.train(was_training)
    weights = grad.mean((2, 3), keepdim=True)
    raw = F.relu((weights * a).sum(1)).detach()
    up = F.interpolate(raw[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo = up.flatten(1).min(1).values.view(-1, 1, 1)
    hi = up.flatten(1).max(1).values.view(-1, 1, 1)
    maps = torch.where(hi > lo, (up - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(up))
    return ReferenceCam(maps.float(), raw)
