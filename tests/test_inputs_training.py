"""Issue 13: images that fail only when decoded - training refuses or recounts, never goes stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.errors import DatasetError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def break_pixels(path: str) -> None:
    """Keep the PNG header and IEND trailer, zero the pixel data: the scan's header and tail
    check passes, only a full decode fails."""
    good = Path(path).read_bytes()
    Path(path).write_bytes(good[:50] + b"\x00" * (len(good) - 62) + good[-12:])


def config(data: Path, mode: str) -> TrainConfig:
    return TrainConfig.for_mode(str(data), mode, backbone="tiny_test", epochs=2, batch_size=8)


@pytest.mark.parametrize("mode", ["feature_extraction", "fine_tuning"])
def test_every_val_image_undecodable_is_refused_naming_the_val_folder(
        tiny_backbone, tmp_path, mode):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=9, size=32,
                              layout="splits")
    for sample in scan_dataset(data).split("val"):
        break_pixels(sample.path)
    with pytest.raises(DatasetError) as refused:
        train_run(config(data, mode), tmp_path / "run", feature_cache=FeatureCache())
    message = str(refused.value)
    assert f"{data / 'val'} has no readable images" in message
    assert "6 files skipped" in message and "damaged image data" in message
    assert refused.value.path == str(data / "val")
    assert not (tmp_path / "run" / "model.pt").exists()


def test_val_folder_whose_files_are_all_unreadable_names_that_folder(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=9, size=32,
                              layout="splits")
    for png in (data / "val").rglob("*.png"):
        png.write_bytes(png.read_bytes()[:60])
    with pytest.raises(DatasetError) as refused:
        train_run(config(data, "feature_extraction"), tmp_path / "run",
                  feature_cache=FeatureCache())
    assert f"{data / 'val'} has no readable images (6 files skipped" in str(refused.value)
    assert "Add a 'val' folder" not in str(refused.value)


def test_warnings_and_counts_are_recomputed_after_decoding(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=12, size=32)
    (data / "red" / "notes.txt").write_text("not an image")  # skipped by the scan itself
    scan = scan_dataset(data)
    assert "1 file was skipped (see the skipped list for reasons)" in scan.warnings
    broken = [s.path for s in scan.split("train") if s.label == 1][:3]  # 'red' train images
    for path in broken:
        break_pixels(path)
    result = train_run(config(data, "feature_extraction"), tmp_path / "run",
                       feature_cache=FeatureCache())
    written = json.loads((tmp_path / "run" / "dataset.json").read_text())
    assert written["num_skipped"] == len(written["skipped"]) == 4
    assert written["num_samples"] == 24 - 3
    assert "4 files were skipped (see the skipped list for reasons)" in written["warnings"]
    assert not any("1 file was skipped" in w for w in written["warnings"])
    assert written["warnings"] == result.dataset.warnings
    assert sum(written["counts"]["red"].values()) == 12 - 3
    assert any("class 'red' has only 9 usable images" in w for w in written["warnings"])
