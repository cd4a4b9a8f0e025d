"""Tampered model files get a clear ModelFileError naming the file, never a crash or "cat nan"."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from transfer_gui.cli import main
from transfer_gui.core.errors import ModelFileError
from transfer_gui.core.model_file import load_model, save_model
from transfer_gui.core.models import make_model
from transfer_gui.core.predict import predict_images


@pytest.fixture
def saved(tiny_backbone, tmp_path):
    """A good model.pt of the tiny backbone and a function that rewrites it with changes."""
    model = make_model(tiny_backbone, 2, pretrained=True)
    path = save_model(tmp_path / "model.pt", model, tiny_backbone, ["cat", "dog"],
                      "feature_extraction", 0.2)

    def tampered(change) -> str:
        data = torch.load(path, weights_only=True)
        change(data)
        torch.save(data, path)
        return str(path)

    return tampered


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _set_pre(key, value):
    return lambda d: d["preprocessing"].__setitem__(key, value)


def _poison_weight(value):
    def change(d):
        name = next(k for k in d["state_dict"] if k.endswith("weight"))
        d["state_dict"][name] = torch.full_like(d["state_dict"][name], value)
    return change


@pytest.mark.parametrize("change, words", [
    (_set("schema_version", "1"), "schema_version"),
    (lambda d: d["preprocessing"].pop("std"), "preprocessing"),
    (_set("dropout", 5.0), "dropout"),
    (_set_pre("input_size", 0), "input_size"),
    (_set_pre("resize_size", 30000), "resize_size"),
    (_set_pre("std", [0.25, 0.0, 0.25]), "std"),
    (_set_pre("mean", [0.5, float("nan"), 0.5]), "mean"),
    (_poison_weight(float("nan")), "NaN"),
    (_poison_weight(float("inf")), "NaN or infinite"),
    (_set("class_names", ["cat", "cat"]), "'cat'"),
    (_set("class_names", "cat"), "class_names"),
    (_set("state_dict", {}), "no weights"),
])
def test_tampered_file_is_refused_naming_it(saved, change, words):
    path = saved(change)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert path in str(caught.value) and words in str(caught.value)
    assert caught.value.path == path


def test_weights_of_another_architecture_name_the_file(tiny_backbone, tmp_path):
    model = make_model(tiny_backbone, 2, pretrained=False)
    save_model(tmp_path / "model.pt", model, tiny_backbone, ["a", "b"], "fine_tuning", 0.2)
    data = torch.load(tmp_path / "model.pt", weights_only=True)
    data["state_dict"] = {"other.weight": torch.zeros(3)}
    torch.save(data, tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="another architecture") as caught:
        load_model(tmp_path)
    assert str(tmp_path / "model.pt") in str(caught.value)


def test_predict_cli_exits_2_on_a_nan_model_instead_of_printing_nan(saved, tmp_path, capsys):
    path = saved(_poison_weight(float("nan")))
    Image.new("RGB", (40, 40), "red").save(tmp_path / "x.png")
    assert main(["predict", path, str(tmp_path / "x.png")]) == 2
    out, err = capsys.readouterr()
    assert "nan" not in out and path in err


def test_non_finite_output_is_an_error_not_a_prediction(saved, tmp_path):
    """Finite but huge weights overflow to inf logits and NaN probabilities."""
    loaded = load_model(saved(lambda d: None))
    with torch.no_grad():
        for parameter in loaded.model.head.parameters():
            parameter.fill_(3e38)
    Image.new("RGB", (40, 40), "red").save(tmp_path / "x.png")
    with pytest.raises(ModelFileError, match="no valid probability"):
        list(predict_images(loaded, [str(tmp_path / "x.png")]))


def test_an_error_without_text_is_still_an_error(saved, tmp_path, monkeypatch):
    import transfer_gui.core.predict as predict_module

    def out_of_memory(path, size):
        raise MemoryError()

    monkeypatch.setattr(predict_module, "load_image_array", out_of_memory)
    loaded = load_model(saved(lambda d: None))
    [p] = predict_images(loaded, [str(tmp_path / "x.png")])
    assert p.error and "MemoryError" in p.error and not p.predicted
    assert not math.isnan(p.probability) and np.isfinite(p.probability)


def test_backbone_weights_of_another_architecture_name_the_file(tmp_path):
    from synthetic import tiny_spec
    from transfer_gui.core.errors import WeightsError
    from transfer_gui.core.models import register_backbone, unregister_backbone

    weights = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, weights)
    spec = tiny_spec(weights, name="tiny_wrong")
    register_backbone(spec)
    try:
        with pytest.raises(WeightsError, match="another architecture") as caught:
            make_model(spec, 2, pretrained=True)
        assert str(weights) in str(caught.value)
    finally:
        unregister_backbone("tiny_wrong")
