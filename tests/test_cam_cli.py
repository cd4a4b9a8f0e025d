"""`transfer-gui cam` and `explain_image(s)` end to end, with a tiny model trained in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transfer_gui.cli import main
from transfer_gui.core.cam import explain_image, explain_images, output_stems
from transfer_gui.core.errors import Cancelled, UserError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.jobs import CancelToken
from transfer_gui.core.model_file import load_model
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run

SIZES = {"wide.png": (60, 40), "tall.jpg": (30, 50), "a/same.png": (48, 48),
         "b/same.png": (52, 44)}  # name -> (width, height)


@pytest.fixture
def trained(tiny_backbone, color_dataset, tmp_path):
    """(run folder, folder of test images of several sizes plus one broken file)."""
    run_dir = tmp_path / "run"
    config = TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                  epochs=3, batch_size=8)
    train_run(config, run_dir, feature_cache=FeatureCache())
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for name, (w, h) in SIZES.items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.array([200, 40, 40]) + rng.normal(0, 30, (h, w, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(images / name)
    (images / "broken.jpg").write_bytes(b"not an image at all")
    return run_dir, images


def _lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def test_cam_writes_overlays_and_maps_at_the_original_size(trained, tmp_path, capsys):
    run_dir, images = trained
    out = tmp_path / "cams"
    assert main(["cam", str(run_dir), str(images), "--out", str(out), "--raw"]) == 0
    stdout = capsys.readouterr().out
    rows = {Path(r[0]).relative_to(images).as_posix(): r for r in _lines(stdout)}
    assert "ERROR" in rows["broken.jpg"][1]
    class_names = load_model(run_dir).class_names
    for name, (w, h) in SIZES.items():
        assert rows[name][1] in class_names and 0 <= float(rows[name][2]) <= 1
    pngs, npys = sorted(out.glob("*_cam.png")), sorted(out.glob("*_cam.npy"))
    assert [p.name for p in pngs] == ["same-2_cam.png", "same_cam.png", "tall_cam.png",
                                      "wide_cam.png"]  # same stem in two folders: no collision
    assert len(npys) == 4
    for stem, name in [("wide", "wide.png"), ("tall", "tall.jpg"), ("same", "a/same.png"),
                       ("same-2", "b/same.png")]:
        w, h = SIZES[name]
        heat = np.load(out / f"{stem}_cam.npy")
        assert heat.shape == (h, w) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() <= 1
        with Image.open(out / f"{stem}_cam.png") as png:
            assert png.size == (w, h) and png.mode == "RGB"


def test_cam_target_class_by_name_index_and_unknown(trained, tmp_path, capsys):
    run_dir, images = trained
    names = load_model(run_dir).class_names
    other = names[-1]
    code = main(["cam", str(run_dir), str(images / "wide.png"), "--out", str(tmp_path / "o"),
                 "--target-class", other, "--method", "gradcam++", "--colormap", "viridis",
                 "--alpha", "0.3"])
    assert code == 0
    (row,) = _lines(capsys.readouterr().out)
    assert (row[1] == other) or any(other in cell for cell in row[3:])
    assert main(["cam", str(run_dir), str(images / "wide.png"), "--out", str(tmp_path / "o"),
                 "--target-class", "0"]) == 0
    capsys.readouterr()
    assert main(["cam", str(run_dir), str(images), "--out", str(tmp_path / "o"),
                 "--target-class", "purple"]) == 2
    err = capsys.readouterr().err
    assert "purple" in err and all(n in err for n in names)


def test_cam_bad_inputs_exit_2(trained, tmp_path, capsys):
    run_dir, images = trained
    out = str(tmp_path / "o")
    assert main(["cam", str(run_dir), str(images / "broken.jpg"), "--out", out]) == 2
    assert "None of the 1 image(s)" in capsys.readouterr().err
    assert main(["cam", str(run_dir), str(images / "wide.png"), "--out", out,
                 "--layer", "backbone.nope"]) == 2
    assert "backbone.block2" in capsys.readouterr().err
    assert main(["cam", str(run_dir), str(images / "wide.png"), "--out", out,
                 "--alpha", "1.5"]) == 2
    assert main(["cam", str(tmp_path / "no_model"), str(images), "--out", out]) == 2


def test_explain_image_and_images(trained):
    run_dir, images = trained
    loaded = load_model(run_dir)
    e = explain_image(loaded, str(images / "wide.png"))
    assert e.image.shape == (40, 60, 3) and e.image.dtype == np.uint8
    assert e.map_input.shape == (32, 32) and e.map_original.shape == (40, 60)
    assert e.raw.shape == (8, 8) and e.layer == "backbone.block2" and e.method == "gradcam"
    assert e.target == e.predicted and e.target_name == loaded.class_names[e.target]
    assert e.target_probability == pytest.approx(e.predicted_probability)
    other = (e.predicted + 1) % len(loaded.class_names)
    by_name = explain_image(loaded, str(images / "wide.png"), target=loaded.class_names[other],
                            method="layercam")
    by_index = explain_image(loaded, str(images / "wide.png"), target=other, method="layercam")
    assert by_name.target == by_index.target == other and by_name.predicted == e.predicted
    np.testing.assert_allclose(by_name.map_input, by_index.map_input)
    assert by_name.target_probability < e.predicted_probability
    with pytest.raises(UserError, match="purple"):
        explain_image(loaded, str(images / "wide.png"), target="purple")
    with pytest.raises(UserError, match="out of range"):
        explain_image(loaded, str(images / "wide.png"), target=len(loaded.class_names))
    with pytest.raises(UserError, match="not an image"):
        explain_image(loaded, str(images / "broken.jpg"))

    paths = [str(images / n) for n in ["broken.jpg", *SIZES]]
    errors, reports = [], []
    found = list(explain_images(loaded, paths, method="eigencam", batch_size=2,
                                on_error=lambda p, r: errors.append(p), progress=reports.append))
    assert [x.path for x in found] == paths[1:] and errors == paths[:1]
    assert reports[-1].fraction == 1.0 and reports[-1].stage == "cam"
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        list(explain_images(loaded, paths, cancel=token))


def test_output_stems_are_distinct():
    assert output_stems(["x/a.png", "y/a.jpg", "z/A.png", "b.png"]) == ["a", "a-2", "A-3", "b"]
