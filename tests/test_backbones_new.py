"""The backbones added for the source material (VGG-16, VGG-19, Inception-v3), without the
network: generated "ImageNet" weights downloaded from a local server and loaded strictly, then a
forward pass, a trained head saved as model.pt, Grad-CAM at the entry's layer and a TorchScript
export that gives the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transfer_gui.core.cam.compute import compute_cam
from transfer_gui.core.cam.layers import reshape_for
from transfer_gui.core.export.run import write_torchscript
from transfer_gui.core.model_file import load_model, save_model
from transfer_gui.core.models import build_network, get_backbone
from transfer_gui.core.models.network import TransferModel
from weights_server import served_backbone


# VGG-19 is VGG-16 with more layers in the same blocks (test_backbones.py builds it, runs it
# and finds its CAM layer); a second 550 MB download and export would add ~10 s to the suite.
# VGG-16's 528 MB download, strict load and export take 20-30 s: it runs with the slow tests.
@pytest.mark.parametrize("name", [pytest.param("vgg16", marks=pytest.mark.slow), "inception_v3",
                                  "dinov2_vits14_reg"])
def test_new_backbone_downloads_loads_strictly_explains_and_exports(name, tmp_path):
    real = get_backbone(name)
    with served_backbone(tmp_path / "server", f"served_{name}", like=real) as (spec, state, _):
        backbone = build_network(spec, pretrained=True, allow_download=True)
        loaded_state = {k: v for k, v in backbone.state_dict().items()}
        kept = [k for k in state if k in loaded_state]
        assert kept and all(torch.equal(state[k], loaded_state[k]) for k in kept)  # the served weights
        size = spec.preprocessing.input_size
        model = TransferModel(backbone, spec.feature_dim, num_classes=3).eval()
        image = torch.rand(2, 3, size, size)
        with torch.no_grad():
            assert backbone(image).shape == (2, spec.feature_dim)
            logits = model(image)
        cam = compute_cam(model, image, layer=f"backbone.{spec.cam_layer}",
                          reshape=reshape_for(model))  # a transformer's tokens to a grid
        assert cam.maps.shape[0] == 2 and np.isfinite(cam.maps).all() and cam.maps.max() > 0
        path = save_model(tmp_path / "model.pt", model, spec, ["a", "b", "c"], "fine_tuning", 0.2)
        again = load_model(path)
        exported = torch.jit.load(str(write_torchscript(again, tmp_path / "model.torchscript.pt")))
        with torch.no_grad():
            assert torch.allclose(exported(image), logits, atol=1e-4)
