"""DINOv2 ViT-S/14 with registers (issue 15), without the network: the registry entry, the
publisher's key layout loaded strictly, the pinned SHA-256 that refuses any other file (download
and import), CAM over its patch tokens (class token and 4 registers dropped), and the licence in
the exported model card. Download, strict load, CAM and TorchScript of a served generated state
dict: tests/test_backbones_new.py."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np
import pytest
import torch

from transfer_gui.core.cam.compute import compute_cam
from transfer_gui.core.cam.layers import reshape_for
from transfer_gui.core.errors import WeightsError
from transfer_gui.core.export.bundle import model_card
from transfer_gui.core.model_file import load_model, save_model
from transfer_gui.core.models import (DOWNLOAD_NEEDED, availability, build_network,
                                      get_backbone, import_weights)
from transfer_gui.core.models.dinov2 import DinoV2
from transfer_gui.core.models.network import TransferModel
from transfer_gui.core.models.weights import hub_checkpoint_dir
from weights_server import served_backbone

NAME = "dinov2_vits14_reg"


def test_the_entry_and_the_publishers_key_layout():
    spec = get_backbone(NAME)
    assert spec.weights_url.endswith("/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth")
    assert re.fullmatch(r"[0-9a-f]{64}", spec.weights_sha256)
    assert spec.licence.startswith("Apache-2.0") and spec.download_mb == 88.0
    assert availability(spec) == DOWNLOAD_NEEDED and spec.feature_dim == 768
    state = DinoV2().state_dict()
    # The names and shapes of the publisher's file (hubconf dinov2_vits14_reg, block_chunks=0).
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 384)
    assert state["register_tokens"].shape == (1, 4, 384) and state["mask_token"].shape == (1, 384)
    assert state["patch_embed.proj.weight"].shape == (384, 3, 14, 14)
    assert state["blocks.11.attn.qkv.weight"].shape == (1152, 384)
    assert state["blocks.11.ls2.gamma"].shape == (384,) and "norm.bias" in state
    assert sum(k.startswith("blocks.") for k in state) == 12 * 14 and len(state) == 176
    net = build_network(spec, pretrained=False).eval()
    stages = spec.stages(net)
    trained = {id(p) for p in net.parameters() if p.requires_grad}
    assert {id(p) for s in stages for p in s.parameters()} >= trained - {
        id(net.cls_token), id(net.pos_embed), id(net.register_tokens)}
    with torch.no_grad():
        a = net(torch.rand(1, 3, 224, 224))
        b = net(torch.rand(1, 3, 280, 280))  # any multiple of 14: position embeddings resized
    assert a.shape == b.shape == (1, 768)


def test_a_file_with_another_digest_is_refused_downloaded_or_imported(tmp_path):
    real = get_backbone(NAME)
    with served_backbone(tmp_path / "server", "served_dino", like=real) as (spec, state, file):
        wrong = dataclasses.replace(spec, weights_sha256="0" * 64)
        with pytest.raises(WeightsError, match="is damaged or not the published"):
            build_network(wrong, pretrained=True, allow_download=True)
        assert not list(hub_checkpoint_dir().glob("served_dino*"))  # nothing half-kept
        other = tmp_path / "other.pth"
        torch.save({k: v + 1 for k, v in state.items()}, other)
        with pytest.raises(WeightsError, match="SHA-256"):
            import_weights(spec, other)
        with pytest.raises(WeightsError, match="is not the published .*its SHA-256 is"):
            import_weights(wrong, file)  # its name's hash prefix agrees; the pinned digest not
        assert import_weights(spec, file).is_file()  # the published file is taken
        assert hashlib.sha256(file.read_bytes()).hexdigest() == spec.weights_sha256
        net = build_network(spec, pretrained=True, allow_download=False)
        assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


def test_cam_reads_the_patch_tokens_and_the_card_names_the_licence(tmp_path):
    spec = get_backbone(NAME)
    torch.manual_seed(0)
    model = TransferModel(build_network(spec, pretrained=False), 768, num_classes=2).eval()
    reshape = reshape_for(model)
    assert reshape.grid == 16  # 224 / 14; the class token and the 4 registers are dropped
    tokens = torch.arange(2 * 261 * 3, dtype=torch.float32).reshape(2, 261, 3)
    grid = reshape(tokens)
    assert grid.shape == (2, 3, 16, 16) and torch.equal(grid[:, :, 0, 0], tokens[:, 5])
    cam = compute_cam(model, torch.rand(1, 3, 224, 224), layer=f"backbone.{spec.cam_layer}",
                      reshape=reshape)
    assert cam.maps.shape[0] == 1 and np.isfinite(cam.maps).all()
    loaded = load_model(save_model(tmp_path / "model.pt", model, spec, ["a", "b"],
                                   "feature_extraction", 0.5))
    assert "DINOv2 ViT-S/14 (registers): Apache-2.0" in model_card(loaded, None, None, None)
