"""The per-image "how much to trust this map" note (core/cam/trust.py) on known cases.

A constructed colour detector classifies cam_synthetic's images (coloured object = class, grey
decoy of the same shape): a map on the object must lower the class probability far more than a
random area, a map on the decoy must not (and the note then says so).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import cam_synthetic as cs
from transfer_gui.core.cam.trust import (SHARE, TrustCheck, blur, random_masks, top_mask,
                                         trust_check)


class ColourDetector(nn.Module):
    """Logit of class k = 300 x mean over pixels of ReLU(channel k - other channels - 0.3): only
    saturated pixels of the class colour count, so blurring the object lowers its logit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        others = (x.sum(1, keepdim=True) - x) / 2
        return 300 * torch.relu(x - others - 0.3).mean(dim=(2, 3))


def box_map(box, size: int = cs.SIZE) -> np.ndarray:
    """A map that is 1 on the box, falling off linearly around it."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:size, 0:size]
    dx = np.maximum(np.maximum(x0 - xx, xx - (x1 - 1)), 0)
    dy = np.maximum(np.maximum(y0 - yy, yy - (y1 - 1)), 0)
    return np.clip(1 - np.hypot(dx, dy) / size, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return cs.make_dataset(12, seed=5)


def test_masks_hide_exactly_the_share():
    cam = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    mask = top_mask(cam)
    assert mask.sum() == round(SHARE * 2000)
    assert cam[mask].min() >= cam[~mask].max()
    shifted = random_masks(mask, 5, seed=1)
    assert shifted.shape == (5, 40, 50) and (shifted.sum(axis=(1, 2)) == mask.sum()).all()
    assert not all((s == mask).all() for s in shifted)


def test_blur_keeps_a_flat_image_and_smooths_an_edge():
    flat = torch.full((1, 3, 32, 32), 0.7)
    assert torch.allclose(blur(flat, 4.0), flat, atol=1e-6)
    step = torch.zeros(1, 1, 32, 32)
    step[..., 16:] = 1
    out = blur(step, 4.0)
    assert 0.3 < out[0, 0, 10, 16] < 0.7 and out[0, 0, 10, 0] < 0.01


def test_map_on_the_object_drops_the_probability_more_than_random(data):
    model = ColourDetector()
    x = data.tensor()
    for i in range(len(data)):
        check = trust_check(model, x[i], box_map(data.boxes[i]), int(data.labels[i]))
        assert check.probability > 0.9, check
        assert check.hidden < check.probability - 0.4, check
        assert check.beats_random, check
        assert "random area" in check.sentence("red") and "do not" not in check.sentence("red")


def test_map_on_the_decoy_gives_a_small_drop_and_says_so(data):
    model = ColourDetector()
    x = data.tensor()
    for i in range(len(data)):
        check = trust_check(model, x[i], box_map(data.decoy_boxes[i]), int(data.labels[i]))
        assert check.probability - check.hidden < 0.1, check
        assert not check.beats_random, check
        assert "does not show what the model used" in check.sentence("red")
        assert "leaves" in check.sentence("red") or "lowers" in check.sentence("red")


def test_sentence_reads_as_the_issue_asks():
    text = TrustCheck(0.85, 0.31, 0.80).sentence("ants")
    assert text == "Hiding the highlighted area lowers 'ants' from 85% to 31% (a random area: 80%)."


def test_an_empty_map_has_no_check_and_the_model_mode_is_kept(data):
    model = ColourDetector().train()
    x = data.tensor()[0]
    assert trust_check(model, x, np.zeros((cs.SIZE, cs.SIZE), np.float32), 0) is None
    trust_check(model, x, box_map(data.boxes[0]), int(data.labels[0]))
    assert model.training
    with pytest.raises(ValueError):
        trust_check(model, x, np.ones((10, 10), np.float32), 0)


def test_cam_command_prints_the_note_once_per_image(tiny_backbone, color_dataset, tmp_path,
                                                    capsys):
    from transfer_gui.cli import main
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                  epochs=2, batch_size=8)
    train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    images = sorted(p for p in color_dataset.rglob("*.png"))[:3]
    assert main(["cam", str(tmp_path / "run"), *map(str, images), "--out",
                 str(tmp_path / "cams")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == len(images)
    for line in lines:
        assert line.split("\t")[-1].startswith("Hiding the highlighted area"), line
