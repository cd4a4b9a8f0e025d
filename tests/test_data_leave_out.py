"""Empty class folders (issue 12.11): the scan names every empty class and, when asked, leaves
them out; training and reopening a run scan the same way."""

from __future__ import annotations

import pytest

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.errors import DatasetError, EmptyClassError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.run_result import load_run_result
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


def test_every_empty_class_is_named_in_the_error(tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    (root / "yellow").mkdir()
    (root / "zebra").mkdir()
    (root / "zebra" / "broken.jpg").write_text("not an image")
    with pytest.raises(EmptyClassError) as error:
        scan_dataset(root)
    assert error.value.classes == ["yellow", "zebra"]
    assert isinstance(error.value, DatasetError)
    assert "class 'yellow' has no usable images" in str(error.value)
    assert "1 more classes are empty" in str(error.value)
    assert "leave the class out" in str(error.value)


def test_leave_out_empty_classes_scans_without_them(tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    (root / "yellow").mkdir()
    scan = scan_dataset(root, leave_out_empty_classes=True)
    assert scan.class_names == ["blue", "green", "red"]
    assert scan.left_out_classes == ["yellow"]
    assert any("left out the empty class 'yellow'" in w for w in scan.warnings)
    assert scan.summary()["left_out_classes"] == ["yellow"]
    # Without empty classes the option changes nothing.
    (root / "yellow").rmdir()
    plain = scan_dataset(root, leave_out_empty_classes=True)
    assert plain.left_out_classes == [] and plain.class_names == ["blue", "green", "red"]


def test_leave_out_also_drops_the_class_from_val_and_test_folders(tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=9, layout="splits")
    (root / "train" / "yellow").mkdir()
    make_color_dataset(tmp_path / "extra", classes=("yellow",), per_class=3)
    (root / "val" / "yellow").mkdir()
    for image in (tmp_path / "extra" / "yellow").iterdir():
        image.rename(root / "val" / "yellow" / image.name)
    with pytest.raises(EmptyClassError):
        scan_dataset(root)
    scan = scan_dataset(root, leave_out_empty_classes=True)
    assert scan.class_names == ["blue", "green", "red"]
    assert all("yellow" not in s.path for s in scan.samples)


def test_only_one_class_left_is_still_refused(tmp_path):
    root = make_color_dataset(tmp_path / "d", classes=("red",), per_class=6)
    (root / "blue").mkdir()
    with pytest.raises(DatasetError, match="1 class folder"):
        scan_dataset(root, leave_out_empty_classes=True)


def test_training_and_reopening_leave_out_the_same_classes(tiny_backbone, tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=9)
    (root / "yellow").mkdir()
    config = TrainConfig.for_mode(str(root), "feature_extraction", backbone="tiny_test",
                                  epochs=2, batch_size=8, leave_out_empty_classes=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    result = train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    assert result.best is not None and result.dataset.class_names == ["blue", "green", "red"]
    reopened = load_run_result(tmp_path / "run")
    assert reopened.dataset is not None and reopened.dataset.left_out_classes == ["yellow"]
