"""Per-method default CAM layers (BackboneSpec.cam_layers, cam_target_for) and the plain layer
names of the picker (plain_layer_names)."""

from __future__ import annotations

import dataclasses

import numpy as np

import pytest

from transfer_gui.core.cam import cam_target_for, candidate_layers, plain_layer_names
from transfer_gui.core.models import get_backbone
from transfer_gui.core.models.network import make_model


def test_plain_names_follow_depth_deepest_first():
    paths = ["head", "s1", "s2", "s3", "s4"]  # candidate_layers' order: deepest, then input first
    named = plain_layer_names(paths)
    assert [p for p, _ in named] == ["head", "s4", "s3", "s2", "s1"]
    names = [n for _, n in named]
    assert names[0] == "late · 5 of 5"
    assert names[-1] == "early — finer detail · 1 of 5"
    assert names[2].startswith("middle")
    assert plain_layer_names(["only"]) == [("only", "late · 1 of 1")]


def test_each_method_gets_its_own_default_layer_falling_back_to_cam_layer():
    spec = get_backbone("efficientnet_lite0")
    model = make_model(spec, 3, pretrained=False)
    custom = dataclasses.replace(spec, cam_layers={"layercam": "_blocks.7"})
    assert cam_target_for(custom, model, "layercam")[0] == "backbone._blocks.7"
    assert cam_target_for(custom, model, "eigencam")[0] == "backbone." + spec.cam_layer
    assert cam_target_for(custom, model)[0] == "backbone." + spec.cam_layer
    layers = candidate_layers(model, custom)
    assert layers[0] == "backbone." + spec.cam_layer  # the picker's list does not change
    for method, layer in spec.cam_layers.items():  # every registered default is offered
        assert "backbone." + layer in layers, (method, layer)


def test_a_registered_default_that_does_not_exist_fails_early():
    spec = dataclasses.replace(get_backbone("efficientnet_lite0"), cam_layers={"gradcam": "nope"})
    with pytest.raises(AttributeError):
        cam_target_for(spec, make_model(spec, 3, pretrained=False), "gradcam")


@pytest.mark.slow
def test_lite0_default_method_points_at_the_object_on_held_out_images():
    """EfficientNet-Lite0 fine-tuned on the known-location set (bench/cam_layers.py: 160-px
    pictures, coloured object = class, grey decoy, sides 20-48 px, batch norm in inference mode),
    fed as the app feeds them (resized to 256 and centre-cropped to 224); the default method at
    its default layer must put the map peak on the object (+-8 picture pixels) for 90% of
    held-out images. Measured with bench/cam_layers.py --app-input on 100 images: Grad-CAM at
    _blocks.14 0.97 and 0.98 (seeds 0 and 1); fed at 160 px it pointed 0.40 to 0.88. About 3
    minutes on one thread."""
    assert _default_pointing("efficientnet_lite0", pretrained=True, train=150, epochs=3) >= 0.9


@pytest.mark.slow
def test_resnet18_default_method_points_at_the_object_on_held_out_images():
    """The same for a torchvision backbone, ResNet-18 at its default layer (layer4.1), trained
    from scratch on the set (the app's "from scratch"; its pretrained ImageNet weights cannot be
    downloaded on this machine), batch norm in training mode. Measured with bench/cam_layers.py
    --from-scratch --app-input (300 images x 6 epochs): test accuracy 1.000, Grad-CAM at layer4.1
    1.00 while its stem (bn1) points 0.82. About 2 minutes on one thread."""
    assert _default_pointing("resnet18", pretrained=False, train=240, epochs=5) >= 0.9


def _default_pointing(name: str, *, pretrained: bool, train: int, epochs: int) -> float:
    """Pointing of the default CAM method at `name`'s default layer on 60 held-out pictures of
    the known-location set, after training the model on `train` pictures (one thread)."""
    import os
    import sys

    import torch

    import cam_synthetic as cs
    from transfer_gui.core.cam import DEFAULT_METHOD, compute_cam

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    import cam_layers as bench

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = get_backbone(name)
        data = cs.make_dataset(train, seed=11, size=bench.SIZE, side_range=bench.SIDES)
        test = cs.make_dataset(60, seed=13, size=bench.SIZE, side_range=bench.SIDES)
        torch.manual_seed(0)
        model = bench.new_model(spec, from_scratch=not pretrained)
        bench.fine_tune(model, bench.app_inputs(data, spec)[0], torch.from_numpy(data.labels),
                        epochs=epochs, train_bn=not pretrained)
        x, boxes, _, scale = bench.app_inputs(test, spec)
        assert bench.accuracy(model, x, test.labels) >= 0.95
        layer, _ = cam_target_for(spec, model, DEFAULT_METHOD)
        maps = np.concatenate([compute_cam(model, x[i:i + 30], layer=layer, method=DEFAULT_METHOD,
                                           targets=[int(t) for t in test.labels[i:i + 30]]).maps
                               for i in range(0, len(x), 30)])
        hits = float(cs.pointing_hits(maps, boxes, bench.TOL * scale).mean())
        print(f"{name}: pointing {DEFAULT_METHOD} at {layer}: {hits:.2f}")
        return hits
    finally:
        torch.set_num_threads(threads)
