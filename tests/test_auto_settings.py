"""Automatic settings within a time budget (core/auto, `train --auto`): a small fine-tuning
search that prunes, keeps given options fixed, resumes from SQLite and stays in its budget; the
probe's L2 by cross-validation for feature extraction; the search table in config.json."""

from __future__ import annotations

import os
import platform
import tempfile
import time

import numpy as np
import optuna
import pytest
import torchvision  # noqa: F401 (a run's first import of it takes seconds: not inside a budget)

from transfer_gui.cli import main
from transfer_gui.core.auto import (BUDGET_SPENT, COMPLETE, OUT_OF_TIME, PRUNED, SEARCHED,
                                    find_settings)
from transfer_gui.core.auto.budget import TrialTimes
from transfer_gui.core.auto.space import EPOCH_BOUNDS, LOG_BOUNDS
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.features import FeatureCache, dataset_features
from transfer_gui.core.heads import L2_GRID, choose_l2
from transfer_gui.core.run import Run
from transfer_gui.core.training.config import AUGMENTATION_PRESETS, TrainConfig
from transfer_gui.core.training.options import OPTION_BY_NAME

# Fixed in the quick searches: short trials, and no probe cross-validation in each.
QUICK = dict(epochs=2, batch_size=8, head_l2=1e-3)


def scan_of(config: TrainConfig):
    return scan_dataset(config.data_dir, val_fraction=config.val_fraction,
                        test_fraction=config.test_fraction, seed=config.split_seed)


class PruneTrialOne(optuna.pruners.BasePruner):
    """Prunes trial 1 after its first epoch (the median pruner's choice depends on the curves)."""

    def prune(self, study, trial) -> bool:
        return trial.number == 1 and trial.last_step is not None


def trial_folders(temp) -> list:
    return list(temp.glob("transfer-gui-trial-*"))


@pytest.fixture
def trial_temp(tmp_path, monkeypatch):
    """Trials' temporary folders go here, to check that none stays."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_search_bounds_lie_inside_the_options_declared_ranges():
    for name, (low, high) in LOG_BOUNDS.items():
        assert low in OPTION_BY_NAME[name].range and high in OPTION_BY_NAME[name].range
    for low, high in EPOCH_BOUNDS.values():
        assert low in OPTION_BY_NAME["epochs"].range and high in OPTION_BY_NAME["epochs"].range
    assert OPTION_BY_NAME["augmentation"].choices == AUGMENTATION_PRESETS
    for names in SEARCHED.values():
        assert set(names) <= set(OPTION_BY_NAME)


def test_fine_tuning_search_prunes_keeps_given_options_and_resumes(
        tiny_backbone, color_dataset, tmp_path, trial_temp):
    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone="tiny_test",
                                  learning_rate=5e-3, **QUICK)
    scan, cache, storage = scan_of(config), FeatureCache(), tmp_path / "study.db"
    streamed, epochs = [], []
    found = find_settings(scan, config, 120, storage=storage, feature_cache=cache,
                          fixed=["learning_rate", *QUICK], max_trials=2, pruner=PruneTrialOne(),
                          on_trial=streamed.append,
                          on_epoch=lambda number, row: epochs.append((number, row["epoch"])))
    assert [t.state for t in found.trials] == [COMPLETE, PRUNED]
    assert streamed == found.trials
    # The mode's defaults are tried first; the given options are not searched.
    assert found.trials[0].settings == {"backbone_lr_factor": 0.1, "unfreeze_stages": None,
                                        "augmentation": "light"}
    assert found.searched == ("backbone_lr_factor", "unfreeze_stages", "augmentation")
    assert found.fixed == {"learning_rate": 5e-3, **QUICK}
    assert found.config.learning_rate == 5e-3 and found.config.epochs == 2
    # The pruned trial stopped after epoch 1 of 2; the other trained both (epoch 0: the probe).
    assert epochs == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    best = found.trials[found.best_trial]
    assert found.best_trial == 0 and found.chosen == best.settings
    assert best.val_acc == max(row["val_acc"] for row in best.curve if row["epoch"] > 0)
    assert trial_folders(trial_temp) == []  # every trial's run folder was deleted

    again = find_settings(scan, config, 120, storage=storage, feature_cache=cache,
                          fixed=["learning_rate", *QUICK], max_trials=1)
    assert [(t.number, t.resumed) for t in again.trials] == [(0, True), (1, True), (2, False)]
    assert again.trials[2].settings not in (found.trials[0].settings, found.trials[1].settings)
    stored = optuna.load_study(study_name=again.study, storage=f"sqlite:///{storage}")
    assert [t.state.name for t in stored.trials] == ["COMPLETE", "PRUNED",
                                                     again.trials[2].state.upper()]
    assert all("learning_rate" not in t.params for t in stored.trials)


def test_search_stays_within_its_budget(tiny_backbone, color_dataset, trial_temp, monkeypatch):
    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone="tiny_test",
                                  **{**QUICK, "epochs": 15})
    scan, fixed = scan_of(config), ["head_l2", "batch_size", "epochs"]
    # A budget shorter than any trial: the first trial starts and is stopped at the deadline,
    # or none starts when the search's set-up (timing a few images: up to 2 s with 5 processes
    # per core) has spent it.
    # (each epoch made 0.3 s longer: on a quiet machine the tiny trial's 15 epochs fit in 1 s)
    started = time.perf_counter()
    found = find_settings(scan, config, 1.0, feature_cache=FeatureCache(), fixed=fixed,
                          on_epoch=lambda number, row: time.sleep(0.3))
    assert found.stop_reason == BUDGET_SPENT
    assert [t.state for t in found.trials] in ([], [OUT_OF_TIME])
    assert found.config == config and time.perf_counter() - started < 1.0 + 5.0
    # Estimated to fit, but slower (half a second an epoch): stopped at the deadline.
    monkeypatch.setattr(TrialTimes, "planned", classmethod(lambda cls, *a, **kw: cls(0.0, 0.01)))
    started = time.perf_counter()
    found = find_settings(scan, config, 4.0, feature_cache=FeatureCache(), fixed=fixed,
                          on_epoch=lambda number, row: time.sleep(0.5))
    took = time.perf_counter() - started
    assert found.stop_reason == BUDGET_SPENT
    assert took < 4.0 + 3.0, took  # a 15-epoch trial of 0.5 s sleeps alone takes 7.5 s
    assert [t.state for t in found.trials] == [OUT_OF_TIME]
    assert 1 <= len(found.trials[0].curve) < 16 and found.chosen == {}
    assert trial_folders(trial_temp) == []


def test_feature_extraction_chooses_the_probe_strength_by_cross_validation(
        tiny_backbone, color_dataset, monkeypatch):
    from transfer_gui.core.auto import probe

    calls = []
    monkeypatch.setattr(probe, "choose_l2", lambda *a, **kw: calls.append(
        (a, kw, choose_l2(*a, **kw))) or calls[-1][2])
    config = TrainConfig.for_mode(str(color_dataset), backbone="tiny_test")
    scan, cache = scan_of(config), FeatureCache()
    found = find_settings(scan, config, 60, feature_cache=cache)
    # heads.choose_l2 on the training images' features, as a run with Automatic does.
    [(args, kwargs, (l2, accuracy))] = calls
    train = scan.split("train")
    features = dataset_features(tiny_backbone, [s.path for s in train], cache=cache)
    assert np.array_equal(args[0], features.center(range(len(train))))
    assert list(args[1]) == [s.label for s in train] and args[2] == 3
    assert kwargs["class_weights"] == config.class_weights and kwargs["seed"] == config.seed
    assert found.chosen == {"head_l2": l2} and found.config.head_l2 == l2
    assert found.l2_accuracy == accuracy and list(accuracy) == list(L2_GRID)
    assert found.trials == []
    given = find_settings(scan, config.with_changes(head_l2=0.5), 60, feature_cache=cache,
                          fixed=["head_l2"])
    assert given.chosen == {} and given.config.head_l2 == 0.5 and len(calls) == 1


def test_train_auto_prints_the_trials_and_keeps_the_search_in_config_json(
        tiny_backbone, color_dataset, tmp_path, capsys, trial_temp):
    out = tmp_path / "run"
    code = main(["train", "--data", str(color_dataset), "--out", str(out), "--mode",
                 "fine_tuning", "--backbone", "tiny_test", "--auto", "--budget-min", "2",
                 "--max-trials", "1", "--epochs", "2", "--batch-size", "8", "--probe-l2",
                 "0.001", "--augmentation", "none"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "trial  lr" in printed and "augmentation" not in printed.split("trial  lr")[1][:60]
    assert "Kept as given: epochs 2, augmentation none, batch_size 8, head_l2 0.001" in printed
    run = Run.open(out)
    record = run.auto_settings()
    assert [t["number"] for t in record["trials"]] == [0]
    assert record["fixed"] == {"epochs": 2, "batch_size": 8, "augmentation": "none",
                               "head_l2": 0.001}
    assert record["budget_seconds"] == 120
    config = run.config()
    assert config.augmentation == "none" and config.epochs == 2
    assert {k: getattr(config, k) for k in record["chosen"]} == record["chosen"]
    assert run.evaluation() is not None and trial_folders(trial_temp) == []


def test_two_workers_share_one_study_without_failing_each_others_trials(
        tiny_backbone, color_dataset, tmp_path, trial_temp):
    """Parallel trials through shared storage (issue 17): two searches on one SQLite study at
    once (threads here; processes or machines alike) each run their own trials; neither takes
    the other's running trial for one a killed search left behind."""
    import threading

    from transfer_gui.core.auto.study import WORKER

    config = TrainConfig.for_mode(str(color_dataset), "fine_tuning", backbone="tiny_test",
                                  **QUICK)
    scan, storage = scan_of(config), tmp_path / "shared.db"
    found: dict[int, object] = {}

    def worker(k: int) -> None:
        found[k] = find_settings(scan, config, 120, storage=storage, feature_cache=FeatureCache(),
                                 fixed=list(QUICK), max_trials=2)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sorted(found) == [0, 1]
    stored = optuna.load_study(study_name=found[0].study, storage=f"sqlite:///{storage}")
    assert len(stored.trials) == 4
    assert [t.state.name for t in stored.trials].count("FAIL") == 0
    assert all(t.user_attrs[WORKER]["pid"] == os.getpid() for t in stored.trials)
    # a trial whose process is gone (a killed worker) is failed when the next search opens
    dead = stored.ask()
    dead.set_user_attr(WORKER, {"host": platform.node(), "pid": 2 ** 22 + 12345})
    again = find_settings(scan, config, 120, storage=storage, feature_cache=FeatureCache(),
                          fixed=list(QUICK), max_trials=1)
    states = {t.number: t.state for t in again.trials}
    assert states[dead.number] == "interrupted" and len(again.trials) == 6
