"""A downloadable backbone end to end: registry -> local HTTP server -> hub cache -> training.

The server runs on 127.0.0.1 inside the test and serves a generated state dict; no internet.
"""

from __future__ import annotations

import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.models import CACHED, DOWNLOAD_NEEDED, availability
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from weights_server import served_backbone as served


@pytest.fixture
def served_backbone(tmp_path):
    with served(tmp_path / "www", "tinyhub") as backbone:
        yield backbone


def test_training_downloads_the_weights_once_with_progress(served_backbone, color_dataset, tmp_path):
    spec, state, _ = served_backbone
    assert availability(spec) == DOWNLOAD_NEEDED
    reports = []
    config = TrainConfig.for_mode(str(color_dataset), backbone="tinyhub", epochs=2)
    train_run(config, tmp_path / "run", progress=reports.append, feature_cache=FeatureCache())
    downloads = [r for r in reports if r.stage == "weights"]
    assert downloads and "Downloading Tiny tinyhub net" in downloads[-1].message
    assert availability(spec) == CACHED
    from transfer_gui.core.model_file import load_model

    trained = load_model(tmp_path / "run").model.backbone.state_dict()
    assert torch.equal(trained["features.block1.0.weight"], state["features.block1.0.weight"])


def test_offline_training_refuses_with_import_hint(served_backbone, color_dataset, tmp_path):
    config = TrainConfig.for_mode(str(color_dataset), backbone="tinyhub", epochs=1)
    from transfer_gui.core.errors import WeightsError

    with pytest.raises(WeightsError, match="backbones --import tinyhub"):
        train_run(config, tmp_path / "run", allow_download=False)


def test_cli_import_checks_architecture_then_caches(served_backbone, tmp_path, capsys):
    spec, state, published = served_backbone
    wrong = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, wrong)
    assert main(["backbones", "--import", "tinyhub", str(wrong)]) == 2
    assert "not the expected weights" in capsys.readouterr().err
    assert availability(spec) == DOWNLOAD_NEEDED
    copy = tmp_path / "my-download.pth"
    copy.write_bytes(published.read_bytes())
    assert main(["backbones", "--import", "tinyhub", str(copy)]) == 0
    assert availability(spec) == CACHED
