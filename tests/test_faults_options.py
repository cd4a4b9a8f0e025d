"""Option values out of range are refused (exit 2) before any work; a loss that becomes NaN or
infinite stops training with a clear reason instead of saving a NaN model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transfer_gui.cli import main
from transfer_gui.core.errors import ConfigError
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.loop import Callback, Trainer


@pytest.mark.parametrize("options, named", [
    (dict(learning_rate=float("inf")), "learning_rate"),
    (dict(weight_decay=float("inf")), "weight_decay"),
    (dict(learning_rate=1e300), "learning_rate"),
    (dict(weight_decay=1e300), "weight_decay"),
    (dict(seed=-1), "seed"),
    (dict(seed=2 ** 70), "seed"),
    (dict(split_seed=-5), "split_seed"),
    (dict(unfreeze_stages=999), "unfreeze_stages"),
    (dict(mode="fine_tuning", epochs=10, warmup_epochs=100), "warmup_epochs"),
    (dict(mode="fine_tuning", epochs=5, warmup_epochs=5), "warmup_epochs"),
    (dict(feature_views=1000), "feature_views"),
    (dict(epochs=0), "epochs"),
])
def test_out_of_range_option_is_refused_naming_it(options, named):
    with pytest.raises(ConfigError, match=f"'{named}'"):
        TrainConfig.for_mode("data", **options)


def test_in_range_options_still_pass():
    config = TrainConfig.for_mode("data", "fine_tuning", epochs=5, warmup_epochs=4, seed=2**32 - 1,
                                  unfreeze_stages=3, learning_rate=5.0)
    assert config.seed == 2**32 - 1 and config.warmup_epochs == 4


@pytest.mark.parametrize("flag, value", [("--lr", "inf"), ("--weight-decay", "inf"),
                                         ("--lr", "nan"), ("--seed", "-1"),
                                         ("--seed", str(2**70)), ("--unfreeze", "999")])
def test_cli_refuses_before_any_work(tmp_path, capsys, flag, value):
    (tmp_path / "data").mkdir()
    code = main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                 "--mode", "fine_tuning", flag, value])
    assert code == 2
    assert "not allowed" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


class Seen(Callback):
    def __init__(self):
        self.epochs = []

    def after_epoch(self, trainer):
        self.epochs.append(dict(trainer.metrics))


def _trainer(poison_epoch: int, callbacks, where: str = "train") -> Trainer:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)

    def train_batches(epoch):
        yield (x * float("inf") if where == "train" and epoch == poison_epoch else x), y

    def val_batches():
        yield (x * float("nan") if where == "val" and seen.epochs else x), y

    seen = callbacks[0]
    return Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                   train_batches, val_batches, epochs=5, num_batches=1,
                   device=torch.device("cpu"), callbacks=callbacks)


@pytest.mark.parametrize("where, words", [("train", "training loss became nan in epoch 3"),
                                          ("val", "validation loss became nan after epoch 2")])
def test_non_finite_loss_stops_training_with_a_reason(where, words):
    seen = Seen()
    trainer = _trainer(2, [seen], where)
    trainer.fit()
    assert len(seen.epochs) == (2 if where == "train" else 1)
    assert all(m["train_loss"] == m["train_loss"] for m in seen.epochs)  # no NaN epoch offered
    assert words in trainer.stop_reason and "learning rate" in trainer.stop_reason
    assert not trainer.cancelled
