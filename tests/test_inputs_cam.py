"""Issue 13: CAM decodes very large pictures at reduced size and bounds its overlay."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from transfer_gui.cli import main
from transfer_gui.core.cam import explain as explain_module
from transfer_gui.core.cam import explain_images, save_explanation
from transfer_gui.core.data import open_image_rgb
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.model_file import load_model
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def gradient(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], 2).astype(np.uint8)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_open_image_rgb_with_max_side_shrinks_keeping_the_shape(tmp_path, ext):
    path = tmp_path / f"wide{ext}"
    Image.fromarray(gradient(3000, 1000)).save(path)
    img = open_image_rgb(str(path), max_side=300)
    assert img.mode == "RGB" and img.size == (300, 100)
    full = np.asarray(open_image_rgb(str(path)).resize((300, 100), Image.Resampling.BILINEAR))
    assert np.abs(np.asarray(img, dtype=int) - full).mean() < 8  # the same picture, smaller
    assert open_image_rgb(str(path), max_side=5000).size == (3000, 1000)  # never enlarged


def test_max_side_applies_after_the_exif_rotation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.fromarray(gradient(2000, 1000)).save(path, exif=exif)
    assert open_image_rgb(str(path), max_side=400).size == (200, 400)


def test_explanations_of_a_big_image_are_bounded(tiny_backbone, color_dataset, tmp_path,
                                                 monkeypatch):
    run = tmp_path / "run"
    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction",
                                  backbone="tiny_test", epochs=2, batch_size=8)
    train_run(config, run, feature_cache=FeatureCache())
    monkeypatch.setattr(explain_module, "OVERLAY_MAX_SIDE", 64)
    big = tmp_path / "big.png"
    Image.fromarray(gradient(400, 200)).save(big)
    explanation = next(explain_images(load_model(run), [str(big)]))
    assert explanation.image.shape == (32, 64, 3)
    assert explanation.map_original.shape == (32, 64)
    written = save_explanation(explanation, tmp_path / "out", "big", raw=True)
    with Image.open(written[0]) as overlay:
        assert overlay.size == (64, 32)
    assert np.load(written[1]).shape == (32, 64)


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names")
def test_cam_prints_one_line_per_image_whatever_its_name(tiny_backbone, color_dataset, tmp_path,
                                                         capsys):
    run = tmp_path / "run"
    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction",
                                  backbone="tiny_test", epochs=2, batch_size=8)
    train_run(config, run, feature_cache=FeatureCache())
    images = tmp_path / "images"
    images.mkdir()
    for name in ("two\nlines.png", "tab\there.png"):
        Image.fromarray(gradient(40, 30)).save(images / name)
    assert main(["cam", str(run), str(images), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert {line.split("\t")[0] for line in lines} == {
        f"{images}/two\\nlines.png", f"{images}/tab\\there.png"}


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "L"])
def test_reduce_by_in_strips_matches_a_full_size_conversion(mode):
    from transfer_gui.core.data.pixels import _STRIP_ROWS, reduce_by

    rgb = Image.fromarray(gradient(301, _STRIP_ROWS + 77))
    img = rgb.convert("L").convert(mode) if mode in ("1", "I;16") else rgb.convert(mode)
    reduced = reduce_by(img, 3)
    full_mode = "I" if mode == "I;16" else "L" if mode == "L" else "RGB"
    expected = img.convert(full_mode).reduce(3)
    assert reduced.size == expected.size == (101, (_STRIP_ROWS + 77 + 2) // 3)
    assert np.array_equal(np.asarray(reduced.convert(full_mode)), np.asarray(expected))


def test_training_decode_of_a_big_palette_png_matches_its_rgb_version(tmp_path):
    from transfer_gui.core.data import load_image_array

    rgb = Image.fromarray(gradient(1600, 1200))
    rgb.quantize(64).save(tmp_path / "p.png")
    rgb.quantize(64).convert("RGB").save(tmp_path / "rgb.png")
    small = load_image_array(str(tmp_path / "p.png"), 64)
    assert small.shape == (64, 64, 3)
    diff = np.abs(small.astype(int) - load_image_array(str(tmp_path / "rgb.png"), 64)).mean()
    assert diff < 1.0
