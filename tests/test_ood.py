""""Unlike the training data" (issue 14): the detector's distance, its fit on a real backbone,
its block in model.pt, and what predict reports."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from ood_images import make_drawings, make_noise
from synthetic import make_shapes_dataset
from transfer_gui.core.errors import ModelFileError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.model_file import load_model
from transfer_gui.core.ood import (MAX_REFERENCE_ROWS, OOD_KEY, REFERENCE_KEY, UnlikeDetector,
                                   fit_detector, ood_block, reference_block, reference_features)
from transfer_gui.core.predict import predict_images
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run


# ------------------------------------------------------------------ the distance


def _gaussian_classes(rng, n, dim=12, offset=1000.0):
    """Two classes of Gaussian features with a known diagonal covariance, far from the origin
    along axis 0, so L2 normalisation only rescales them (by 1/offset, within 0.1%)."""
    sd = np.linspace(0.5, 2.0, dim)
    means = np.zeros((2, dim))
    means[:, 0] = offset
    means[1, 1] = 6.0
    y = rng.integers(0, 2, n)
    return means[y] + rng.normal(size=(n, dim)) * sd, y, means, sd


def test_distance_on_gaussian_features_has_the_known_answer():
    rng = np.random.default_rng(0)
    x, y, means, sd = _gaussian_classes(rng, 20_000)
    val, _, _, _ = _gaussian_classes(rng, 4_000)
    det = fit_detector(x, y, val, num_classes=2)
    # A point t standard deviations from class 1's mean along axis j is t away (Mahalanobis).
    for j, t in ((1, 3.0), (5, 2.0), (11, 4.0)):
        point = means[1].copy()
        point[j] += t * sd[j]
        assert det.distances(point[None])[0] == pytest.approx(t, rel=0.05), (j, t)
    # ... from the nearer mean: halfway between the two means is 3 / sd[1] away from both.
    assert det.distances(means.mean(0)[None])[0] == pytest.approx(3.0 / sd[1], rel=0.05)
    # Squared distances of in-class points are chi-squared with 12 degrees of freedom, so the
    # threshold (95th percentile) is near sqrt(chi2_95(12)) = 4.585 and flags 5% of new points.
    assert det.threshold == pytest.approx(4.585, rel=0.03)
    assert (det.scores(val) > 1).mean() == pytest.approx(0.05, abs=0.01)


def test_low_rank_form_equals_the_full_precision_matrix():
    rng = np.random.default_rng(1)
    dim, k = 20, 6
    comps = np.linalg.qr(rng.normal(size=(dim, k)))[0].T
    det = UnlikeDetector(rng.normal(size=(3, dim)).astype(np.float32), comps.astype(np.float32),
                         rng.uniform(0.5, 3, k), 0.2, 1.0, "test")
    cov = comps.T @ np.diag(det.variances) @ comps + 0.2 * (np.eye(dim) - comps.T @ comps)
    precision = np.linalg.inv(cov)
    x = rng.normal(size=(7, dim))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    want = np.sqrt(np.min([np.einsum("ij,jk,ik->i", unit - m, precision, unit - m)
                           for m in det.means.astype(np.float64)], axis=0))
    np.testing.assert_allclose(det.distances(x), want, rtol=1e-4)


def test_reference_sample_is_stratified_and_small():
    y = np.repeat([0, 1, 2], [900, 300, 60])
    block = reference_block(np.random.default_rng(0).normal(size=(len(y), 8)), y)
    labels = block["labels"].numpy()
    assert block["features"].dtype == torch.float16 and len(labels) <= MAX_REFERENCE_ROWS
    assert block["labels"].dtype == torch.int64
    shares = np.bincount(labels, minlength=3) / len(labels)
    np.testing.assert_allclose(shares, [900 / 1260, 300 / 1260, 60 / 1260], atol=0.01)


# ------------------------------------------------------------------ a real backbone


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A feature-extraction run of the bundled Lite0 on generated photo-like shapes, with
    held-out in-domain images and two other families of images."""
    root = tmp_path_factory.mktemp("ood")
    data = make_shapes_dataset(root / "shapes", train_per_class=30, test_per_class=20, seed=3)
    train_run(TrainConfig.for_mode(str(data / "train"), "feature_extraction", epochs=1,
                                   val_fraction=0.2, test_fraction=0.0, head_l2=1e-3),
              root / "run",
              feature_cache=FeatureCache(), allow_download=False)
    return {"run": root / "run", "held_out": sorted(map(str, (data / "test").rglob("*.png"))),
            "drawings": make_drawings(root / "drawings", 15),
            "noise": make_noise(root / "noise", 15)}


def test_flags_other_image_families_but_not_new_images_of_the_training_kind(shapes_run):
    loaded = load_model(shapes_run["run"])
    detector = ood_block(loaded)
    assert detector is not None and "validation images" in detector.calibrated_on
    rates = {}
    for family in ("held_out", "drawings", "noise"):
        predictions = list(predict_images(loaded, shapes_run[family]))
        assert all(p.unlike_score is not None and not p.error for p in predictions)
        assert all(p.unlike_training == (p.unlike_score > 1) for p in predictions)
        rates[family] = np.mean([p.unlike_training for p in predictions])
    assert rates["held_out"] <= 0.10, rates
    assert rates["drawings"] >= 0.90 and rates["noise"] >= 0.90, rates


def test_model_file_holds_the_blocks_and_a_reference_sample(shapes_run):
    loaded = load_model(shapes_run["run"])
    features, labels = reference_features(loaded)
    assert features.shape == (len(labels), loaded.spec.feature_dim) and len(labels) <= 512
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    raw = torch.load(shapes_run["run"] / "model.pt", weights_only=True)
    assert raw[OOD_KEY]["threshold"] == ood_block(loaded).threshold
    # The reference rows are the model's own head inputs for training images.
    assert np.isfinite(features).all() and features.std() > 0


def _save_edited(run, tmp_path, edit):
    data = torch.load(run / "model.pt", weights_only=True)
    edit(data)
    torch.save(data, tmp_path / "edited.pt")
    return tmp_path / "edited.pt"


def test_an_old_model_file_without_the_blocks_still_predicts(shapes_run, tmp_path):
    def drop(data):
        del data[OOD_KEY], data[REFERENCE_KEY]

    loaded = load_model(_save_edited(shapes_run["run"], tmp_path, drop))
    assert ood_block(loaded) is None and reference_features(loaded) is None
    (p,) = predict_images(loaded, shapes_run["held_out"][:1])
    assert p.predicted and p.unlike_score is None and p.unlike_training is None


@pytest.mark.parametrize("edit, words", [
    (lambda d: d[OOD_KEY]["means"].fill_(float("nan")), "NaN or infinite"),
    (lambda d: d[OOD_KEY].update(means=d[OOD_KEY]["means"][:, :10]), "shape"),
    (lambda d: d[OOD_KEY].update(threshold=-1.0), "threshold"),
    (lambda d: d[OOD_KEY].update(variances=-d[OOD_KEY]["variances"]), "variances"),
    (lambda d: d[OOD_KEY].update(method="magic"), "method"),
    (lambda d: d[REFERENCE_KEY].update(labels=d[REFERENCE_KEY]["labels"] + 7), "labels"),
    (lambda d: d[REFERENCE_KEY]["features"].fill_(float("inf")), "NaN or infinite"),
])
def test_a_damaged_block_is_refused_naming_the_file(shapes_run, tmp_path, edit, words):
    path = _save_edited(shapes_run["run"], tmp_path, edit)
    with pytest.raises(ModelFileError, match=words) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_cli_predict_shows_the_score_and_flag_in_lines_and_csv(shapes_run, tmp_path, capsys):
    from transfer_gui.cli import main

    images = shapes_run["held_out"][:3] + shapes_run["noise"][:3]
    out = tmp_path / "p.csv"
    assert main(["predict", str(shapes_run["run"]), *images, "--csv", str(out)]) == 0
    captured = capsys.readouterr()
    lines = [line.split("\t") for line in captured.out.splitlines()]
    assert [fields[0] for fields in lines] == images and all(len(f) == 5 for f in lines)
    for fields in lines[3:]:  # noise: flagged in plain words, whatever the class
        assert float(fields[3]) > 1 and fields[4] == "not like any training class"
    flagged = sum(fields[4] == "not like any training class" for fields in lines)
    assert all((float(f[3]) > 1) == (f[4] != "") for f in lines)
    assert f"{flagged} of 6 image(s) not like any training class" in captured.err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["unlike_training"] for r in rows] == [f[4] for f in lines]
    assert [r["unlike_score"] for r in rows] == [f[3] for f in lines]


def test_cli_predict_with_an_old_model_leaves_the_columns_empty(shapes_run, tmp_path, capsys):
    from transfer_gui.cli import main

    def drop(data):
        del data[OOD_KEY], data[REFERENCE_KEY]

    old = _save_edited(shapes_run["run"], tmp_path, drop)
    assert main(["predict", str(old), *shapes_run["noise"][:2]]) == 0
    captured = capsys.readouterr()
    lines = [line.split("\t") for line in captured.out.splitlines()]
    assert len(lines) == 2 and all(len(f) == 5 and f[3] == f[4] == "" and f[1] for f in lines)
    assert "saved without the \"unlike the training data\" check" in captured.err
