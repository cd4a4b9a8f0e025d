"""model.pt: written atomically, read with weights_only, bad files refused with clear errors."""

from __future__ import annotations

import pytest
import torch

from transfer_gui.core.errors import ModelFileError
from transfer_gui.core.model_file import load_model, save_model
from transfer_gui.core.models import make_model


class RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_round_trip(tiny_backbone, tmp_path):
    model = make_model(tiny_backbone, 3, pretrained=True)
    save_model(tmp_path / "model.pt", model, tiny_backbone, ["a", "b", "c"], "fine_tuning", 0.2)
    loaded = load_model(tmp_path)
    assert loaded.class_names == ["a", "b", "c"] and loaded.mode == "fine_tuning"
    assert not loaded.model.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    assert not list(tmp_path.glob("*.tmp"))


def test_malicious_model_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "transfer_gui.model", "payload": RunsCodeWhenUnpickled(marker)},
               tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="Refused"):
        load_model(tmp_path / "model.pt")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"hello", b"PK\x03\x04garbage"])
def test_garbage_is_refused(tmp_path, content):
    (tmp_path / "model.pt").write_bytes(content)
    with pytest.raises(ModelFileError, match="model.pt"):
        load_model(tmp_path / "model.pt")


def test_a_plain_state_dict_is_not_a_model_file(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="not a transfer_gui model"):
        load_model(tmp_path / "model.pt")


def test_weights_of_another_shape_are_refused(tiny_backbone, tmp_path):
    model = make_model(tiny_backbone, 3, pretrained=False)
    save_model(tmp_path / "model.pt", model, tiny_backbone, ["a", "b"], "fine_tuning", 0.2)
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(tmp_path / "model.pt")
