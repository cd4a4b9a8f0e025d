"""Per-method default CAM layers (BackboneSpec.cam_layers, cam_target_for) and the plain layer
names of the picker (plain_layer_names)."""

from __future__ import annotations

import dataclasses

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
