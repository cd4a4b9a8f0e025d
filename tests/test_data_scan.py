"""Tests for transfer_gui.core.data.scan: layouts, skipped files, splits, errors and warnings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from transfer_gui.core.data import DatasetScan, Sample, SkippedFile, scan_dataset
from transfer_gui.core.errors import Cancelled, ConfigError, DatasetError
from transfer_gui.core.jobs import CancelToken

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]


def add_images(folder: Path, count: int, ext: str = ".png", start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img{i:03d}{ext}"
        Image.new("RGB", (8, 6), COLORS[i % len(COLORS)]).save(path)
        paths.append(path)
    return paths


def make_classes(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        add_images(root / name, count)
    return root


def skipped_reasons(scan: DatasetScan) -> dict[str, str]:
    return {os.path.basename(item.path): item.reason for item in scan.skipped}


def test_classes_layout_carves_all_three_splits(tmp_path):
    make_classes(tmp_path, {"dogs": 20, "cats": 30})
    scan = scan_dataset(tmp_path)
    assert scan.layout == "classes"
    assert scan.class_names == ["cats", "dogs"] and scan.num_classes == 2
    assert scan.counts() == {
        "cats": {"train": 24, "val": 3, "test": 3},
        "dogs": {"train": 16, "val": 2, "test": 2},
    }
    assert scan.splits_made == ["train", "val", "test"]
    assert scan.split_fractions == pytest.approx((0.8, 0.1, 0.1))
    assert scan.skipped == [] and scan.warnings == []
    assert all(os.path.isabs(sample.path) for sample in scan.samples)
    assert [s.path for s in scan.samples] == sorted(s.path for s in scan.samples)
    assert {s.split for s in scan.split("val")} == {"val"}
    assert all(isinstance(sample, Sample) and sample.label in (0, 1) for sample in scan.samples)


def test_split_depends_only_on_seed(tmp_path):
    make_classes(tmp_path, {"a": 40, "b": 40})
    first = scan_dataset(tmp_path, seed=1)
    assert scan_dataset(tmp_path, seed=1).samples == first.samples
    other = scan_dataset(tmp_path, seed=2)
    assert other.samples != first.samples
    assert other.counts() == first.counts()


def test_natural_class_order_and_nested_folders(tmp_path):
    add_images(tmp_path / "class10", 3)
    add_images(tmp_path / "Class2", 3)
    add_images(tmp_path / "class10" / "deeper" / "deepest", 2, ext=".jpg")
    scan = scan_dataset(tmp_path, val_fraction=0, test_fraction=0)
    assert scan.class_names == ["Class2", "class10"]
    assert scan.counts()["class10"]["train"] == 5
    assert scan.splits_made == ["train"]


def test_splits_layout_reads_every_split(tmp_path):
    make_classes(tmp_path / "Train", {"a": 12, "b": 12})
    make_classes(tmp_path / "valid", {"a": 3, "b": 2})
    make_classes(tmp_path / "TEST", {"a": 4, "b": 5})
    scan = scan_dataset(tmp_path)
    assert scan.layout == "splits" and scan.splits_made == []
    assert scan.counts() == {
        "a": {"train": 12, "val": 3, "test": 4},
        "b": {"train": 12, "val": 2, "test": 5},
    }


def test_train_and_val_only_makes_no_test_split(tmp_path):
    make_classes(tmp_path / "train", {"a": 12, "b": 12})
    make_classes(tmp_path / "validation", {"a": 3, "b": 3})
    scan = scan_dataset(tmp_path)
    assert scan.splits_made == []
    assert scan.split("test") == []
    assert sum(c["val"] for c in scan.counts().values()) == 6


def test_train_and_test_carves_val_from_train(tmp_path):
    make_classes(tmp_path / "train", {"a": 20, "b": 30})
    make_classes(tmp_path / "test", {"a": 5, "b": 5})
    scan = scan_dataset(tmp_path, val_fraction=0.1, seed=4)
    assert scan.splits_made == ["val"]
    assert scan.counts() == {
        "a": {"train": 18, "val": 2, "test": 5},
        "b": {"train": 27, "val": 3, "test": 5},
    }
    test_folder = str(tmp_path / "test")
    assert all(s.path.startswith(test_folder) for s in scan.split("test"))


def test_train_folder_alone_carves_val_and_test(tmp_path):
    make_classes(tmp_path / "train", {"a": 20, "b": 10})
    scan = scan_dataset(tmp_path)
    assert scan.layout == "splits" and scan.splits_made == ["val", "test"]
    assert scan.counts()["a"] == {"train": 16, "val": 2, "test": 2}


def test_other_folders_next_to_train_are_ignored_with_a_warning(tmp_path):
    make_classes(tmp_path / "train", {"a": 12, "b": 12})
    make_classes(tmp_path / "val", {"a": 2, "b": 2})
    add_images(tmp_path / "extras" / "a", 3)
    scan = scan_dataset(tmp_path)
    assert any("'extras'" in warning for warning in scan.warnings)
    assert all("extras" not in s.path for s in scan.samples)


def test_unusable_files_are_skipped_with_reasons(tmp_path):
    make_classes(tmp_path, {"a": 12, "b": 12})
    good = tmp_path / "a" / "img000.png"
    jpeg = tmp_path / "a" / "photo.jpg"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    (tmp_path / "a" / "half.jpg").write_bytes(data[: len(data) // 2])
    png = good.read_bytes()
    (tmp_path / "a" / "head.png").write_bytes(png[:40])  # cut inside the header chunks
    big_png = tmp_path / "a" / "big.png"
    Image.radial_gradient("L").save(big_png)
    (tmp_path / "a" / "half.png").write_bytes(big_png.read_bytes()[:3000])
    (tmp_path / "a" / "empty.png").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "b" / "fake.jpg").write_text("this is text")
    (tmp_path / "b" / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "loose.png").write_bytes(png)
    Image.new("RGB", (8, 8)).save(tmp_path / "b" / "SHOUT.JPG", format="JPEG")
    scan = scan_dataset(tmp_path)
    reasons = skipped_reasons(scan)
    assert "truncated" in reasons["half.jpg"]
    assert "truncated" in reasons["half.png"]
    assert reasons["head.png"] == "damaged or truncated image header"
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["notes.txt"] == "not an image type (.txt)"
    assert reasons["fake.jpg"] == "not an image file"
    assert reasons["dangling.png"] == "broken link"
    assert reasons["loose.png"] == "not inside a class folder"
    assert len(scan.skipped) == 8
    names = {os.path.basename(s.path) for s in scan.samples}
    assert {"photo.jpg", "SHOUT.JPG", "img000.png"} <= names
    assert any("8 files were skipped" in warning for warning in scan.warnings)


def test_hidden_and_system_files_are_ignored_silently(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    png = (tmp_path / "a" / "img000.png").read_bytes()
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", ".hidden.png"):
        (tmp_path / "a" / name).write_bytes(b"junk")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    add_images(tmp_path / ".git" / "objects", 2)  # hidden folder at the top
    add_images(tmp_path / "a" / ".thumbnails", 2)  # hidden folder inside a class
    (tmp_path / "b" / "._img000.png").write_bytes(png)
    scan = scan_dataset(tmp_path)
    assert scan.skipped == []
    assert scan.class_names == ["a", "b"]
    assert len(scan.samples) == 20


def test_non_ascii_names(tmp_path):
    add_images(tmp_path / "猫", 10, ext=".jpg")
    add_images(tmp_path / "犬", 10, ext=".jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "猫" / "写真1.jpg")
    scan = scan_dataset(tmp_path)
    assert set(scan.class_names) == {"猫", "犬"}
    assert any(s.path.endswith(os.path.join("猫", "写真1.jpg")) for s in scan.samples)
    json.dumps(scan.summary(), ensure_ascii=False)


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs symlinks")
def test_symlink_loop_terminates(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "b" / "sub").mkdir()
    (tmp_path / "b" / "sub" / "up").symlink_to(tmp_path / "b", target_is_directory=True)
    add_images(tmp_path / ".linked_target", 3)  # hidden: inside the dataset, not a class
    (tmp_path / "b" / "link").symlink_to(tmp_path / ".linked_target", target_is_directory=True)
    scan = scan_dataset(tmp_path)
    assert sum(scan.counts()["a"].values()) == 10
    assert len([s for s in scan.samples if s.label == 1]) == 13  # followed a real link
    reasons = skipped_reasons(scan)
    assert "symlink loop" in reasons["loop"] and "symlink loop" in reasons["up"]


def test_root_must_be_an_existing_folder(tmp_path):
    with pytest.raises(DatasetError, match="not found") as error:
        scan_dataset(tmp_path / "missing")
    assert error.value.path == str(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "file.txt")


def test_one_class_is_refused(tmp_path):
    make_classes(tmp_path, {"cats": 10})
    with pytest.raises(DatasetError, match="found 1 class folder \\('cats'\\)") as error:
        scan_dataset(tmp_path)
    assert "at least 2" in str(error.value) and error.value.path == str(tmp_path)


def test_no_class_folders_is_refused(tmp_path):
    add_images(tmp_path, 3)
    with pytest.raises(DatasetError, match="no class folders"):
        scan_dataset(tmp_path)


def test_empty_class_folder_is_refused(tmp_path):
    make_classes(tmp_path, {"cats": 10})
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DatasetError, match="class 'dogs' has no usable images") as error:
        scan_dataset(tmp_path)
    assert str(tmp_path / "dogs") in str(error.value)
    assert error.value.path == str(tmp_path / "dogs")


def test_class_with_only_corrupt_files_is_refused(tmp_path):
    make_classes(tmp_path, {"cats": 10})
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "a.jpg").write_text("broken")
    (tmp_path / "dogs" / "b.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="class 'dogs'") as error:
        scan_dataset(tmp_path)
    assert "2 files skipped" in str(error.value)
    assert str(tmp_path / "dogs") in str(error.value)


def test_val_class_missing_from_train_is_refused(tmp_path):
    make_classes(tmp_path / "train", {"a": 10, "b": 10})
    make_classes(tmp_path / "val", {"a": 2, "b": 2, "zebra": 2})
    with pytest.raises(DatasetError, match="class 'zebra' appears in val but not in train"):
        scan_dataset(tmp_path)


def test_class_missing_from_val_only_warns(tmp_path):
    make_classes(tmp_path / "train", {"a": 10, "b": 10})
    make_classes(tmp_path / "val", {"a": 2})
    scan = scan_dataset(tmp_path)
    assert "class 'b' has no validation images" in scan.warnings


def test_small_class_and_imbalance_warnings(tmp_path):
    make_classes(tmp_path, {"big": 40, "small": 8})
    scan = scan_dataset(tmp_path, val_fraction=0, test_fraction=0)
    assert any("class 'small' has only 8 usable images" in w for w in scan.warnings)
    assert any("'big' has 40" in w and "'small' only 8" in w for w in scan.warnings)
    balanced = scan_dataset(make_classes(tmp_path / "ok", {"x": 30, "y": 10}))
    assert not any("imbalanced" in w for w in balanced.warnings)


def test_bad_fractions_are_a_config_error(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    with pytest.raises(ConfigError):
        scan_dataset(tmp_path, val_fraction=0.6, test_fraction=0.5)


def test_progress_and_cancel(tmp_path):
    make_classes(tmp_path, {"a": 210, "b": 10})
    reports = []
    scan_dataset(tmp_path, progress=reports.append)
    assert [r.stage for r in reports] == ["scan", "scan"]
    assert reports[0].message == "Scanned 200 files" and reports[-1].fraction == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scan_dataset(tmp_path, cancel=token)


def test_without_moves_samples_to_skipped(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    scan = scan_dataset(tmp_path)
    victim = scan.samples[3].path
    smaller = scan.without([victim], {victim: "truncated image data"})
    assert len(smaller.samples) == 19 and len(scan.samples) == 20
    assert smaller.skipped == [SkippedFile(victim, "truncated image data")]
    assert smaller.summary()["num_skipped"] == 1


def test_summary_is_json_serialisable(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    summary = json.loads(json.dumps(scan_dataset(tmp_path, seed=5).summary()))
    assert summary["layout"] == "classes" and summary["classes"] == ["a", "b"]
    assert summary["split_seed"] == 5 and summary["splits_made"] == ["train", "val", "test"]
    assert summary["counts"]["a"] == {"train": 8, "val": 1, "test": 1}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_subfolder_is_skipped(tmp_path):
    make_classes(tmp_path, {"a": 10, "b": 10})
    locked = tmp_path / "b" / "locked"
    add_images(locked, 2)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("this user can read any folder (root)")
        scan = scan_dataset(tmp_path)
        assert skipped_reasons(scan)["locked"] == "cannot open folder: permission denied"
        assert len(scan.samples) == 20
    finally:
        locked.chmod(0o755)


def test_split_layout_without_class_folders_names_the_train_folder(tmp_path):
    add_images(tmp_path / "train", 5)
    with pytest.raises(DatasetError, match="no class folders") as error:
        scan_dataset(tmp_path)
    assert error.value.path == str(tmp_path / "train")


def test_val_folder_without_train_is_a_class_with_a_warning(tmp_path):
    make_classes(tmp_path, {"val": 10, "cats": 10})
    scan = scan_dataset(tmp_path)
    assert scan.layout == "classes" and "val" in scan.class_names
    assert any("'val' is used as a class" in w for w in scan.warnings)
