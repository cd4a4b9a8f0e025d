"""`cross_validate` and `transfer-gui cv`: folds, reproducibility, and clear bad-input messages."""

from __future__ import annotations

import json

import pytest

from synthetic import make_color_dataset
from transfer_gui.cli import main
from transfer_gui.core.crossval import cross_validate
from transfer_gui.core.errors import DatasetError
from transfer_gui.core.features import FeatureCache


def test_cross_validation_scores_every_image_once_and_repeats_with_its_seed(tiny_backbone,
                                                                          tmp_path):
    data = make_color_dataset(tmp_path / "d", per_class=10)
    cache = FeatureCache()
    first = cross_validate(str(data), "tiny_test", folds=5, seed=3, cache=cache)
    assert [f.fold for f in first.fold_scores] == [1, 2, 3, 4, 5]
    assert sum(f.num_images for f in first.fold_scores) == first.num_images == 30
    assert all(f.num_images == 6 for f in first.fold_scores)  # 2 per class in each fold
    mean, std = first.mean_std("accuracy")
    assert mean >= 0.9 and std >= 0
    again = cross_validate(str(data), "tiny_test", folds=5, seed=3, cache=cache)
    assert again.fold_scores == first.fold_scores
    assert "5 folds, 30 images" in first.summary()


def test_a_class_smaller_than_the_folds_is_named_with_the_largest_possible_k(tiny_backbone,
                                                                           tmp_path):
    data = make_color_dataset(tmp_path / "d", per_class=10)
    for extra in sorted((data / "blue").iterdir())[3:]:
        extra.unlink()
    with pytest.raises(DatasetError, match=r"Class 'blue' has 3 images.*--folds 3"):
        cross_validate(str(data), "tiny_test", folds=5)


def test_cv_command_prints_json(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", per_class=6)
    assert main(["cv", str(data), "--backbone", "tiny_test", "--folds", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["folds"] == 3 and len(out["fold_scores"]) == 3 and out["seed"] == 0
    assert set(out["accuracy"]) == {"mean", "std"}


def test_cv_command_refuses_too_many_folds_with_exit_2(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", per_class=4)
    assert main(["cv", str(data), "--backbone", "tiny_test", "--folds", "5"]) == 2
    assert "--folds 4" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-5", str(2**32)])
def test_cv_refuses_a_seed_out_of_range_before_any_work(tiny_backbone, tmp_path, capsys, seed):
    data = make_color_dataset(tmp_path / "data", per_class=6)
    assert main(["cv", str(data), "--backbone", "tiny_test", "--seed", seed]) == 2
    assert "Option 'seed'" in capsys.readouterr().err


def test_cv_leaves_out_an_empty_class_only_when_asked(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", per_class=6)
    (data / "yellow").mkdir()
    assert main(["cv", str(data), "--backbone", "tiny_test", "--folds", "3"]) == 2
    assert "yellow" in capsys.readouterr().err
    assert main(["cv", str(data), "--backbone", "tiny_test", "--folds", "3", "--json",
                 "--leave-out-empty-classes"]) == 0
    assert json.loads(capsys.readouterr().out)["class_names"] == ["blue", "green", "red"]


def test_train_cli_leaves_out_an_empty_class_when_asked(tiny_backbone, tmp_path):
    from transfer_gui.core.run_result import load_run_result

    data = make_color_dataset(tmp_path / "d", per_class=6)
    (data / "yellow").mkdir()
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--backbone", "tiny_test", "--epochs", "1",
                 "--probe-l2", "0.001", "--out", str(out), "--leave-out-empty-classes"]) == 0
    result = load_run_result(out)
    assert result.config.leave_out_empty_classes
    assert result.dataset.class_names == ["blue", "green", "red"]


def test_cv_weighs_classes_as_training_does_by_default():
    import argparse
    import inspect

    from transfer_gui.cli_commands.crossval import add_cv_options
    from transfer_gui.core.training.config import TrainConfig

    parser = argparse.ArgumentParser()
    add_cv_options(parser)
    assert parser.parse_args(["data"]).class_weights == TrainConfig.class_weights
    default = inspect.signature(cross_validate).parameters["class_weights"].default
    assert default == TrainConfig.class_weights


def test_each_fold_chooses_its_strength_with_the_light_inner_split(tiny_backbone, tmp_path,
                                                                   monkeypatch):
    """CV fits a probe per fold; its inner choice of L2 is one 3-fold split over half the grid
    (an eighth of training's), so 5-fold CV on cached hymenoptera features stays under 5 s."""
    from transfer_gui.core import crossval, heads

    calls = []
    choose = heads.choose_l2
    monkeypatch.setattr(heads, "choose_l2", lambda *a, **k: calls.append(k) or choose(*a, **k))
    data = make_color_dataset(tmp_path / "d", per_class=10)
    cross_validate(str(data), "tiny_test", folds=5, cache=FeatureCache())
    assert len(calls) == 5
    assert all(k["folds"] == 3 and k["repeats"] == 1 and len(k["grid"]) < len(heads.L2_GRID)
               for k in calls), calls
    assert crossval.INNER_REPEATS < heads.CV_REPEATS
