"""Issue 13: a symbolic link inside a class folder never mixes classes or splits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                reason="needs symlinks")


def reasons(scan) -> dict[str, str]:
    return {os.path.basename(s.path): s.reason for s in scan.skipped}


def per_class(scan) -> dict[str, int]:
    return {name: sum(split.values()) for name, split in scan.counts().items()}


def test_link_back_up_the_tree_pulls_in_no_other_class(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=6, size=16)
    (data / "red" / "up").symlink_to("..", target_is_directory=True)
    scan = scan_dataset(data)
    assert per_class(scan) == {"blue": 6, "red": 6}
    assert len({s.path for s in scan.samples}) == len(scan.samples) == 12
    assert "parent folder" in reasons(scan)["up"]


def test_link_into_another_class_folder_is_not_followed(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=6, size=16)
    (data / "red" / "more").symlink_to(data / "blue", target_is_directory=True)
    (data / "red" / "one.png").symlink_to(data / "blue" / "blue_000.png")
    scan = scan_dataset(data)
    assert per_class(scan) == {"blue": 6, "red": 6}
    assert "another class" in reasons(scan)["more"] and "blue" in reasons(scan)["more"]
    assert "another class" in reasons(scan)["one.png"]


def test_link_from_train_into_val_is_not_followed(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=9, size=16,
                              layout="splits")
    (data / "train" / "red" / "v").symlink_to(Path("..", "..", "val", "red"),
                                              target_is_directory=True)
    (data / "train" / "blue" / "all").symlink_to(Path(".."), target_is_directory=True)
    scan = scan_dataset(data)
    train = {s.path for s in scan.split("train")}
    val = {s.path for s in scan.split("val")}
    assert not {os.path.realpath(p) for p in train} & {os.path.realpath(p) for p in val}
    assert scan.counts()["red"] == {"train": 6, "val": 3, "test": 0}
    assert "val/red" in reasons(scan)["v"]
    assert "parent folder" in reasons(scan)["all"]


def test_link_outside_the_dataset_is_reported_not_followed(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=6, size=16)
    make_color_dataset(tmp_path / "elsewhere", classes=("green",), per_class=4, size=16)
    (data / "red" / "far").symlink_to(tmp_path / "elsewhere" / "green",
                                      target_is_directory=True)
    scan = scan_dataset(data)
    assert per_class(scan)["red"] == 6
    assert "outside the dataset folder" in reasons(scan)["far"]


def test_link_to_a_folder_of_the_same_class_is_followed(tmp_path):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=6, size=16)
    make_color_dataset(data / ".extra", classes=("red",), per_class=3, size=16)
    (data / "red" / "extra").symlink_to(data / ".extra" / "red", target_is_directory=True)
    scan = scan_dataset(data)
    assert per_class(scan) == {"blue": 6, "red": 9}


def test_a_class_folder_linked_to_another_class_is_left_out(tmp_path):
    from synthetic import make_color_dataset
    from transfer_gui.core.data import scan_dataset

    root = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=10)
    os.symlink(root / "red", root / "red_again")  # the same images under a second class name
    scan = scan_dataset(str(root))
    assert scan.class_names == ["blue", "red"]
    assert len(scan.samples) == 20
    reasons = {Path(s.path).name: s.reason for s in scan.skipped}
    assert "class folder 'red'" in reasons["red_again"]
