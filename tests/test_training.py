"""Training engine: the three modes, files written, determinism, cancel, callbacks."""

from __future__ import annotations

import json

import pytest
import torch

from transfer_gui.core.errors import ConfigError, DatasetError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.jobs import CancelToken
from transfer_gui.core.model_file import load_model
from transfer_gui.core.models import set_trainable_stages
from transfer_gui.core.training.callbacks import EarlyStopping
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from transfer_gui.core.training.loop import Callback

FAST = dict(epochs=4, batch_size=8)


def config(data, mode="feature_extraction", **kw):
    return TrainConfig.for_mode(str(data), mode, backbone="tiny_test", **{**FAST, **kw})


def test_feature_extraction_learns_and_writes_every_file(tiny_backbone, color_dataset, tmp_path):
    result = train_run(config(color_dataset, epochs=15, learning_rate=0.05), tmp_path / "run",
                       feature_cache=FeatureCache())
    run = tmp_path / "run"
    for name in ("config.json", "dataset.json", "metrics.jsonl", "model.pt", "evaluation.json",
                 "result.json"):
        assert (run / name).is_file(), name
    assert result.best["val_acc"] >= 0.9
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(result.history)
    first = json.loads(lines[0])
    assert set(first) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    saved = json.loads((run / "config.json").read_text())
    assert saved["schema_version"] == 1 and saved["backbone"] == "tiny_test"
    assert TrainConfig.from_dict(saved) == result.config
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["primary_split"] == "test"
    for split in ("val", "test"):
        scores = evaluation["splits"][split]
        assert sum(map(sum, scores["confusion_matrix"])) == scores["num_samples"] > 0
    # The saved model reproduces the evaluation's predictions from the image files.
    loaded = load_model(run)
    assert loaded.class_names == ["blue", "green", "red"]
    from transfer_gui.core.predict import predict_images

    val = evaluation["splits"]["val"]
    files = [s.path for s in result.dataset.split("val")]
    wrong = sum(p.predicted != loaded.class_names[s.label]
                for p, s in zip(predict_images(loaded, files), result.dataset.split("val")))
    assert wrong == len(val["misclassified"])


@pytest.mark.parametrize("mode", ["feature_extraction", "fine_tuning", "from_scratch"])
def test_same_seed_gives_identical_metrics(tiny_backbone, color_dataset, tmp_path, mode):
    runs = [train_run(config(color_dataset, mode, epochs=2, augmentation="light"),
                      tmp_path / f"run{i}", feature_cache=FeatureCache()) for i in range(2)]
    assert runs[0].history and runs[0].history == [
        {**m, "seconds": runs[0].history[i]["seconds"]} for i, m in enumerate(runs[1].history)]
    other = train_run(config(color_dataset, mode, epochs=2, augmentation="light", seed=7),
                      tmp_path / "other", feature_cache=FeatureCache())
    assert [m["train_loss"] for m in other.history] != [m["train_loss"] for m in runs[0].history]


class CancelAt(Callback):
    """Cancels the token at a given (epoch, batch) and records every batch that started."""

    def __init__(self, token, epoch, batch):
        self.token, self.epoch, self.batch = token, epoch, batch
        self.started = []

    def before_batch(self, trainer):
        self.started.append((trainer.epoch, trainer.batch_index))

    def after_batch(self, trainer):
        if (trainer.epoch, trainer.batch_index) == (self.epoch, self.batch):
            self.token.cancel()


@pytest.mark.parametrize("mode", ["feature_extraction", "fine_tuning"])
def test_cancel_stops_within_a_batch_and_keeps_the_best_model(tiny_backbone, color_dataset,
                                                             tmp_path, mode):
    token = CancelToken()
    probe = CancelAt(token, epoch=1, batch=0)
    result = train_run(config(color_dataset, mode, epochs=20), tmp_path / "run",
                       callbacks=[probe], cancel=token, feature_cache=FeatureCache())
    assert result.cancelled and result.stop_reason == "stopped by the user"
    assert probe.started[-1] == (1, 0)  # no batch started after the cancel
    # Fine-tuning validates its starting point (the linear probe) as epoch 0.
    first = [0, 1] if mode == "fine_tuning" else [1]
    assert [h["epoch"] for h in result.history] == first and result.best["epoch"] in first
    assert load_model(tmp_path / "run").class_names == ["blue", "green", "red"]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["cancelled"] is True


def test_cancel_before_training_leaves_no_model(tiny_backbone, color_dataset, tmp_path):
    token = CancelToken()
    token.cancel()
    result = train_run(config(color_dataset), tmp_path / "run", cancel=token)
    assert result.cancelled and not result.has_model
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.parametrize("losses, stop_epoch", [
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], None),
    ([1.0, 0.9, 1.0, 0.5, 0.6, 0.7], 6),
    ([1.0, 1.1, 1.2, 0.5], 3),
    ([1.0, 1.0, 1.0, 1.0], 3),
])
def test_early_stopping_decision(losses, stop_epoch):
    rule = EarlyStopping(patience=2)
    stopped = [i + 1 for i, loss in enumerate(losses) if rule.evaluate(loss)[0]]
    assert (stopped[0] if stopped else None) == stop_epoch


def test_early_stopping_ends_a_run(tiny_backbone, color_dataset, tmp_path):
    result = train_run(config(color_dataset, epochs=60, early_stopping_patience=1,
                              learning_rate=0.5), tmp_path / "run", feature_cache=FeatureCache())
    assert result.stop_reason.startswith("early stopping") and len(result.history) < 60


class RecordTrainable(Callback):
    order = 50

    def __init__(self, model_getter):
        self.model_getter, self.frozen_per_epoch = model_getter, []

    def before_train(self, trainer):
        backbone = trainer.model.backbone
        self.frozen_per_epoch.append(not any(p.requires_grad for p in backbone.parameters()))


def test_fine_tuning_warmup_then_unfreezes_keeping_frozen_bn_stats(tiny_backbone, color_dataset,
                                                                  tmp_path):
    probe = RecordTrainable(None)
    before = torch.load(tiny_backbone.bundled_weights_path(), weights_only=True)
    result = train_run(config(color_dataset, "fine_tuning", epochs=3, warmup_epochs=1,
                              unfreeze_stages=1), tmp_path / "run", callbacks=[probe])
    assert probe.frozen_per_epoch == [True, False, False]
    state = load_model(tmp_path / "run").model.backbone.state_dict()
    # Stage 1 stayed frozen: weights and batch-norm statistics unchanged; stage 2 trained.
    assert torch.equal(state["block1.1.running_mean"], before["block1.1.running_mean"])
    assert torch.equal(state["block1.0.weight"], before["block1.0.weight"])
    assert not torch.equal(state["block2.0.weight"], before["block2.0.weight"])
    assert result.best is not None


def test_set_trainable_stages_counts_from_the_top(tiny_backbone):
    from transfer_gui.core.models import make_model

    model = make_model(tiny_backbone, 3, pretrained=False)
    set_trainable_stages(model, tiny_backbone, 1)
    assert not any(p.requires_grad for p in model.backbone.block1.parameters())
    assert all(p.requires_grad for p in model.backbone.block2.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    set_trainable_stages(model, tiny_backbone, None)
    assert all(p.requires_grad for p in model.parameters())


def test_from_scratch_does_not_use_pretrained_weights(tiny_backbone, color_dataset, tmp_path):
    pretrained = torch.load(tiny_backbone.bundled_weights_path(), weights_only=True)
    train_run(config(color_dataset, "from_scratch", epochs=1), tmp_path / "run")
    state = load_model(tmp_path / "run").model.backbone.state_dict()
    assert not torch.allclose(state["block1.0.weight"], pretrained["block1.0.weight"], atol=0.05)


def test_feature_cache_is_reused_by_a_second_run(tiny_backbone, color_dataset, tmp_path,
                                                  monkeypatch):
    from transfer_gui.core import features

    calls = []
    original = features.FeatureExtractor._forward
    monkeypatch.setattr(features.FeatureExtractor, "_forward",
                        lambda self, x: calls.append(len(x)) or original(self, x))
    cache = FeatureCache(tmp_path / "cache")
    result = train_run(config(color_dataset, augmentation="light", feature_views=2),
                       tmp_path / "a", feature_cache=cache)
    first = sum(calls)
    # every image's centre view, plus 2 augmented views of each train image
    assert first == len(result.dataset.samples) + 2 * len(result.dataset.split("train"))
    train_run(config(color_dataset, augmentation="light", feature_views=2, learning_rate=0.01),
              tmp_path / "b", feature_cache=cache)
    assert sum(calls) == first  # nothing recomputed
    # A new process (fresh cache object) reads the saved features from disk.
    train_run(config(color_dataset), tmp_path / "c", feature_cache=FeatureCache(tmp_path / "cache"))
    assert sum(calls) == first


def test_undecodable_image_is_skipped_and_training_goes_on(tiny_backbone, color_dataset, tmp_path):
    bad = color_dataset / "red" / "broken.png"
    good = (color_dataset / "red" / "red_000.png").read_bytes()
    # Valid header and IEND trailer, garbage in the middle: only a full decode finds it.
    bad.write_bytes(good[:40] + b"\x00" * 200 + good[-12:])
    result = train_run(config(color_dataset), tmp_path / "run", feature_cache=FeatureCache())
    reasons = {s.path: s.reason for s in result.dataset.skipped}
    assert str(bad) in reasons
    summary = json.loads((tmp_path / "run" / "dataset.json").read_text())
    assert any(s["path"] == str(bad) for s in summary["skipped"])
    assert result.best is not None


def test_bad_options_are_refused_with_the_option_named(tmp_path):
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig.for_mode(str(tmp_path), optimizer="adam")
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig.for_mode(str(tmp_path), epochs=0)
    with pytest.raises(ConfigError, match="mode"):
        TrainConfig.for_mode(str(tmp_path), "transfer")


def test_mode_defaults_differ_where_they_should(tmp_path):
    fe = TrainConfig.for_mode(str(tmp_path), "feature_extraction")
    ft = TrainConfig.for_mode(str(tmp_path), "fine_tuning")
    assert fe.augmentation == "none" and ft.augmentation == "light" and ft.warmup_epochs == 0
    assert ft.batch_norm == "frozen" and TrainConfig.for_mode(str(tmp_path),
                                                              "from_scratch").batch_norm == "train"
    assert TrainConfig.for_mode(str(tmp_path), "fine_tuning", epochs=None).epochs == ft.epochs


def test_one_class_dataset_is_refused(tiny_backbone, tmp_path):
    from synthetic import make_color_dataset

    data = make_color_dataset(tmp_path / "d", classes=("red",))
    with pytest.raises(DatasetError):
        train_run(config(data), tmp_path / "run")


class FakeTrainer:
    def __init__(self):
        self.model = self.network = torch.nn.Linear(2, 2)
        self.epoch, self.metrics = 0, {}


@pytest.mark.parametrize("interval, expected_saves", [(0.0, [1, 2, 4]), (3600.0, [1, 4])])
def test_best_checkpoint_saves_improvements_at_most_once_per_interval(interval, expected_saves):
    from transfer_gui.core.training.callbacks import BestCheckpoint

    saves = []
    checkpoint = BestCheckpoint(save=lambda m: saves.append(m["epoch"]), min_interval=interval)
    trainer = FakeTrainer()
    accuracies = [0.5, 0.6, 0.6, 0.8, 0.7]
    weights = {}
    for epoch, acc in enumerate(accuracies):
        trainer.epoch = epoch
        trainer.metrics = {"val_acc": acc, "val_loss": 1.0}
        with torch.no_grad():
            trainer.model.weight.fill_(epoch)
        weights[epoch + 1] = trainer.model.weight.clone()
        checkpoint.after_epoch(trainer)
    checkpoint.after_fit(trainer)
    assert saves == expected_saves  # the first improvement, then as due, and the final best
    assert torch.equal(trainer.model.weight, weights[4])  # best epoch's weights restored


def test_evaluate_after_cancel_scores_the_best_model(tiny_backbone, color_dataset, tmp_path):
    token = CancelToken()
    result = train_run(config(color_dataset, epochs=20), tmp_path / "run",
                       callbacks=[CancelAt(token, epoch=2, batch=0)], cancel=token,
                       feature_cache=FeatureCache(), evaluate_after_cancel=True)
    assert result.cancelled and result.evaluation["best_epoch"] == result.best["epoch"] <= 2
    assert (tmp_path / "run" / "evaluation.json").is_file()


def test_fine_tuning_decodes_each_image_once_over_all_epochs(tiny_backbone, color_dataset,
                                                              tmp_path, monkeypatch):
    from transfer_gui.core.data import store

    decoded = []
    real = store.load_image_array
    monkeypatch.setattr(store, "load_image_array", lambda path, size: decoded.append(path) or
                        real(path, size))
    result = train_run(config(color_dataset, "fine_tuning", epochs=3), tmp_path / "run")
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3]
    assert sorted(decoded) == sorted(s.path for s in result.dataset.samples)
