"""A downloadable backbone end to end: registry -> local HTTP server -> hub cache -> training.

The server runs on 127.0.0.1 inside the test and serves a generated state dict; no internet.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest
import torch
from torch import nn

from synthetic import TinyNet
from transfer_gui.cli import main
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.models import (CACHED, DOWNLOAD_NEEDED, availability, register_backbone,
                                      unregister_backbone)
from transfer_gui.core.models.spec import BackboneSpec, Preprocessing
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


class TinyWithHead(nn.Module):
    """TinyNet plus an "ImageNet" head, as torchvision networks come."""

    def __init__(self) -> None:
        super().__init__()
        self.features = TinyNet()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def _strip(net: TinyWithHead) -> TinyWithHead:
    net.fc = nn.Identity()
    return net


@pytest.fixture
def served_backbone(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    torch.manual_seed(5)
    state = TinyWithHead().state_dict()
    raw = folder / "raw.pth"
    torch.save(state, raw)
    name = f"tinyhub-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    raw.rename(folder / name)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = BackboneSpec(
        name="tinyhub", display_name="Tiny hub net", family="torchvision", num_params=1_600,
        gflops=0.0001, imagenet_top1=1.0,
        preprocessing=Preprocessing(32, 36, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        feature_dim=16, cam_layer="features.block2", build_network=TinyWithHead,
        strip_head=_strip, stages=lambda net: [net.features.block1, net.features.block2],
        weights_url=f"http://127.0.0.1:{server.server_address[1]}/{name}")
    register_backbone(spec)
    yield spec, state, folder / name
    unregister_backbone(spec.name)
    server.shutdown()
    server.server_close()


def test_training_downloads_the_weights_once_with_progress(served_backbone, color_dataset, tmp_path):
    spec, state, _ = served_backbone
    assert availability(spec) == DOWNLOAD_NEEDED
    reports = []
    config = TrainConfig.for_mode(str(color_dataset), backbone="tinyhub", epochs=2)
    train_run(config, tmp_path / "run", progress=reports.append, feature_cache=FeatureCache())
    downloads = [r for r in reports if r.stage == "weights"]
    assert downloads and "Downloading Tiny hub net" in downloads[-1].message
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
