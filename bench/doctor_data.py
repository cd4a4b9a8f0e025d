"""Planted defects for bench/doctor.py: copies of a dataset, re-encoded / resized / cropped /
recoloured copies of photos, flipped labels, and rows (features, thumbnails) computed the way the
data doctor computes them, or drawn like them (many new rows, tight clusters)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

SPLITS = ("train", "val")
KINDS = ("re-encode", "resize", "crop", "recolour", "resize+crop+recolour")


def fresh_copy(data: str, target: Path) -> Path:
    """train/ and val/ of `data` copied to `target` (the shared folder is never touched)."""
    if target.exists():
        shutil.rmtree(target)
    for split in SPLITS:
        shutil.copytree(Path(data) / split, target / split)
    return target


def photos(split_folder: Path) -> list[Path]:
    """The pictures in the class folders of one split, sorted."""
    return sorted(p for p in split_folder.glob("*/*") if p.is_file())


def planted_variant(img: Image.Image, kind: str,
                    rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One copy of `img` of `kind`, random parameters within the issue's 'light' changes."""
    w, h = img.size
    done = []
    if "resize" in kind:
        s = float(rng.uniform(0.5, 1.5))
        img = img.resize((max(8, round(w * s)), max(8, round(h * s))), Image.Resampling.BICUBIC)
        done.append(f"size {s:.0%}")
    if "crop" in kind:
        w, h = img.size
        left, top, right, bottom = rng.uniform(0.0, 0.15, 4)
        img = img.crop((round(w * left), round(h * top), w - round(w * right),
                        h - round(h * bottom)))
        done.append(f"crop l{left:.0%} t{top:.0%} r{right:.0%} b{bottom:.0%}")
    if "recolour" in kind:
        sat, bright, contrast = rng.uniform(0.7, 1.3), *rng.uniform(0.85, 1.15, 2)
        cast = rng.uniform(0.9, 1.1, 3)
        img = ImageEnhance.Contrast(ImageEnhance.Brightness(ImageEnhance.Color(img).enhance(sat))
                                    .enhance(bright)).enhance(contrast)
        arr = np.clip(np.asarray(img, np.float32) * cast, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        done.append(f"colour sat {sat:.2f} bright {bright:.2f} contrast {contrast:.2f} "
                    f"cast {'/'.join(f'{c:.2f}' for c in cast)}")
    return img, ", ".join(done)


def plant_copies(root: Path, count: int, seed: int) -> list[tuple[str, str, str]]:
    """(original, copy, how) for `count` photos copied into the other split of their class."""
    rng = np.random.default_rng(seed)
    planted = []
    originals = {split: photos(root / split) for split in SPLITS}
    for way, (source, target) in enumerate([("train", "val"), ("val", "train")]):
        files = originals[source]
        chosen = rng.choice(len(files), count // 2 + way * (count % 2), replace=False)
        for n, k in enumerate(chosen):
            original = files[k]
            kind = KINDS[(way + 2 * n) % len(KINDS)]
            img, how = planted_variant(Image.open(original).convert("RGB"), kind, rng)
            quality = int(rng.integers(50, 71))
            out = (root / target / original.parent.name
                   / f"planted_{way}{n:02d}_{original.stem}.jpg")
            img.save(out, "JPEG", quality=quality)
            planted.append((str(original), str(out), f"{kind}: JPEG q{quality}"
                            + (f", {how}" if how else "")))
    return planted


def copy_each(originals: list[str], data: str, folder: Path, seed: int) -> list[str]:
    """One copy of every photo (the KINDS in turn, JPEG q 50-70) under `folder`, same layout."""
    rng = np.random.default_rng(seed)
    copies = []
    for n, path in enumerate(originals):
        out = (folder / Path(path).relative_to(data)).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        img, _ = planted_variant(Image.open(path).convert("RGB"), KINDS[n % len(KINDS)], rng)
        img.save(out, "JPEG", quality=int(rng.integers(50, 71)))
        copies.append(str(out))
    return copies


def flip_labels(root: Path, share: float, seed: int) -> set[str]:
    """Move `share` of each split's pictures to the other class folder; their new paths."""
    rng = np.random.default_rng(seed)
    moved = set()
    for split in SPLITS:
        files = photos(root / split)
        for k in rng.choice(len(files), round(share * len(files)), replace=False):
            path = files[k]
            other = "bees" if path.parent.name == "ants" else "ants"
            target = root / split / other / f"flipped_{path.name}"
            path.rename(target)
            moved.add(str(target))
    return moved


def real_rows(files: list[str], backbone: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(features, thumbnails) of `files` as the doctor computes them (cached in `cache_dir`)."""
    from transfer_gui.core.doctor import pictures
    from transfer_gui.core.features import FeatureCache, dataset_features
    from transfer_gui.core.models import get_backbone

    cache = FeatureCache(cache_dir)
    feats = dataset_features(get_backbone(backbone), files, cache=cache)
    cache.save()
    return feats.center(range(len(files))), np.stack([pictures.thumbnail(f) for f in files])


def gaussian_like(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` new rows from a Gaussian with the mean and covariance of `x` (its principal axes):
    new pictures with the real ones' spread, none a copy of another."""
    mean = x.mean(axis=0)
    _, spread, axes = np.linalg.svd(x - mean, full_matrices=False)
    z = rng.standard_normal((n, len(spread)), dtype=np.float32)
    return (mean + (z * spread / np.sqrt(len(x) - 1)) @ axes).astype(np.float32)


def tight_clusters(rows: np.ndarray, shared: np.ndarray, rng: np.random.Generator,
                   spread: float, clusters: int = 20) -> np.ndarray:
    """Every row replaced by one of `clusters` centres (rows picked at random) plus `spread` x
    another random row's deviation from the mean (picture-like, not white, noise); the two rows
    of each pair in `shared` get the same centre."""
    mean = rows.mean(axis=0)
    centres = rows[rng.choice(len(rows), clusters, replace=False)]
    which = rng.integers(0, clusters, len(rows))
    which[shared[:, 1]] = which[shared[:, 0]]
    deviations = rows[rng.integers(0, len(rows), len(rows))] - mean
    return (centres[which] + spread * deviations).astype(np.float32)


def side_by_side(paths: list[str], out: Path, height: int = 200) -> None:
    tiles = [Image.open(p).convert("RGB") for p in paths]
    tiles = [t.resize((max(1, round(t.width * height / t.height)), height)) for t in tiles]
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + 8 * len(tiles), height), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width + 8
    sheet.save(out)
