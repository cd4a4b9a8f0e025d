"""Finding copies (core/doctor/similar.py): the neighbour search against brute force, the
crop-tolerant match, and the calibration on real photos: every re-encoded, resized, cropped or
recoloured copy is found and no two distinct photos are called copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from transfer_gui.core.doctor import crop_match, pictures, similar

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "hymenoptera_data"


def test_nearest_pairs_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(300, 16)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    got = {tuple(p) for p in similar.nearest_pairs(rows, 0.3, k=4, block=64)}
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    want = set()
    for i in range(len(rows)):
        for j in np.argsort(-sims[i])[:4]:
            if sims[i, j] >= 0.3:
                want.add((min(i, j), max(i, j)))
    assert got == want and want


def test_copy_score_is_one_for_the_same_picture_and_tolerates_a_crop():
    rng = np.random.default_rng(1)
    big = np.kron(rng.integers(0, 256, (24, 24)), np.ones((8, 8)))  # 192 px, blocky content
    img = Image.fromarray(big.astype(np.uint8))
    thumb = lambda im: np.asarray(im.resize((similar.THUMB_SIDE,) * 2, Image.Resampling.BOX),
                                  np.float32).ravel()
    whole = thumb(img)
    cropped = thumb(img.crop((0, 0, 154, 154)))  # 80% of each side, top left
    other = thumb(Image.fromarray(rng.integers(0, 256, (192, 192)).astype(np.uint8)))
    assert similar.copy_score(whole, whole) == pytest.approx(1.0, abs=1e-4)
    assert similar.copy_score(whole, cropped) >= similar.COPY_THRESHOLD
    assert similar.copy_score(cropped, whole) >= similar.COPY_THRESHOLD
    assert similar.copy_score(whole, other) < 0.5


def test_the_batched_pair_match_gives_the_reference_scores():
    """match_pairs prepares each picture's boxes once (the 20,000-picture path); its scores
    must be those of `match`, pair by pair, refinement and flat pictures included."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(40, 60, 60)).cumsum(1).cumsum(2)
    crops = [Image.fromarray(np.uint8(255 * (b - b.min()) / np.ptp(b))) for b in base]
    thumbs = [np.asarray(img.resize((48, 48), Image.Resampling.BOX), np.float32)
              for img in crops]
    thumbs += [np.asarray(img.crop((5, 3, 56, 58)).resize((48, 48), Image.Resampling.BOX),
                          np.float32) for img in crops[:10]]
    thumbs.append(np.full((48, 48), 128, np.float32))
    grid_rows = crop_match.grids(np.stack(thumbs))
    pairs = np.array([(i, j) for i in range(len(thumbs)) for j in range(i + 1, len(thumbs))
                      if (i + j) % 3 == 0 or j == i + 40])
    want = crop_match.match(grid_rows[pairs[:, 0]], grid_rows[pairs[:, 1]], enough=0.92)
    got = crop_match.match_pairs(grid_rows, pairs, enough=0.92, block=7)
    assert (want >= 0.92).sum() >= 10  # the crops are found: the comparison covers matches
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_exact_and_connected_groups():
    assert similar.exact_groups(["a", "b", "a", None, None, "b", "c"]) == [[0, 2], [1, 5]]
    assert similar.connected_groups(6, [(0, 1), (1, 4), (2, 3)]) == [[0, 1, 4], [2, 3]]
    assert similar.connected_groups(3, []) == []


def _random_crop(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Up to 15% off every side, at random."""
    w, h = img.size
    left, top, right, bottom = rng.uniform(0.0, 0.15, 4)
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def _variants(img: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    w, h = img.size
    scale = float(rng.uniform(0.5, 1.5))
    return {
        "jpeg q50": img,  # saved at quality 50 below
        "half size": img.resize((w // 2, h // 2)),
        "1.5x size": img.resize((w * 3 // 2, h * 3 // 2)),
        "crop 5% each side": img.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        "crop 15% corner": img.crop((0, 0, w * 85 // 100, h * 85 // 100)),
        "colour": ImageEnhance.Brightness(ImageEnhance.Color(img).enhance(0.85)).enhance(1.1),
        "resize+crop+dim": ImageEnhance.Brightness(
            img.resize((w * 2 // 3, h * 2 // 3)).crop((5, 5, w * 2 // 3 - 5, h * 2 // 3 - 5))
        ).enhance(0.9),
        "random crop": _random_crop(img, rng),
        "random resize+crop+colour": ImageEnhance.Color(_random_crop(
            img.resize((round(w * scale), round(h * scale))), rng)).enhance(
                float(rng.uniform(0.7, 1.3))),
    }


@pytest.mark.slow
@pytest.mark.skipif(not DATA.is_dir(), reason="hymenoptera_data is not beside the checkout")
def test_copies_of_real_photos_are_all_found_and_distinct_photos_never(tmp_path):
    """24 bee photos, 9 kinds of copy each (216; two cropped at random up to 15% on every
    side): every copy linked to its original; the 24 originals (distinct photos of one class)
    never linked to each other."""
    from transfer_gui.core.features import FeatureCache, dataset_features
    from transfer_gui.core.models import get_backbone

    originals = sorted((DATA / "train" / "bees").glob("*.jpg"))[:24]
    files, origin = [str(p) for p in originals], list(range(len(originals)))
    rng = np.random.default_rng(0)
    for k, path in enumerate(originals):
        img = Image.open(path).convert("RGB")
        for name, variant in _variants(img, rng).items():
            out = tmp_path / f"{k:02d}_{name.replace(' ', '_').replace('%', '').replace('+', '_')}.jpg"
            variant.save(out, quality=50 if name == "jpeg q50" else 90)
            files.append(str(out))
            origin.append(k)
    spec = get_backbone("efficientnet_lite0")
    feats = dataset_features(spec, files, cache=FeatureCache())
    features = feats.center(list(range(len(files))))
    thumbs = np.stack([pictures.thumbnail(f) for f in files])
    pairs = similar.copy_pairs(features, thumbs)
    linked = {(a, b) for a, b, _ in pairs}
    n = len(originals)
    missed = [files[i] for i in range(n, len(files)) if (origin[i], i) not in linked]
    assert missed == []
    assert [(a, b) for a, b in linked if b < n] == []  # no two originals
    wrong = [(files[a], files[b]) for a, b in linked if origin[a] != origin[b]]
    assert wrong == []


def test_a_flat_picture_is_no_copy_of_anything():
    rng = np.random.default_rng(4)
    flat = np.full(similar.THUMB_SIDE ** 2, 128, np.float32)
    noise = rng.integers(0, 256, (20, similar.THUMB_SIDE ** 2)).astype(np.float32)
    scores = [similar.copy_score(flat, row) for row in noise]
    assert max(scores) <= 0.05 and min(scores) >= -0.05
    features = np.ones((21, 8), np.float32)  # features alike: only the thumbnails decide
    assert similar.copy_pairs(features, np.vstack([flat, noise])) == []
