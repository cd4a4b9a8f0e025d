"""Ensembles of backbones' probes (core/ensemble, `transfer-gui ensemble`): greedy selection on
out-of-fold log-loss, the keep-or-not decision, the ensemble module's one preprocessing, the
weights-only file, and a run folder that evaluate, predict and export read (export checked)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synthetic import TinyNet, make_color_dataset, tiny_spec
from transfer_gui.cli import main
from transfer_gui.core.ensemble import greedy_selection, log_loss
from transfer_gui.core.crossval import out_of_fold_probabilities
from transfer_gui.core.ensemble.build import build_ensemble
from transfer_gui.core.ensemble.ensemble_file import LoadedEnsemble, save_ensemble
from transfer_gui.core.ensemble.model import EnsembleModel
from transfer_gui.core.ensemble.selection import Selection, SelectionStep, decide
from transfer_gui.core.cam import explain_images
from transfer_gui.core.errors import ModelFileError, UserError
from transfer_gui.core.export import export_run
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.model_file import load_model
from transfer_gui.core.models import (Preprocessing, TransferModel, register_backbone,
                                      unregister_backbone)
from transfer_gui.core.run import Run


# -- selection on generated features ----------------------------------------------------------
def complementary_features(seed: int = 0, n: int = 120):
    """Two classes; "left" sees the class only on the first half of the images, "right" only on
    the second half, "weak" faintly on all. Each alone errs where the other is sure."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    first = np.arange(n) < n // 2
    sign = np.where(y == 1, 1.0, -1.0)

    def view(where: np.ndarray, strength: float) -> np.ndarray:
        x = rng.normal(size=(n, 8))
        x[:, 0] += strength * sign * where
        return x

    return y, {"left": view(first, 3.0), "right": view(~first, 3.0),
               "weak": view(np.ones(n, bool), 0.8)}


def test_greedy_selection_averages_the_complementary_backbones():
    y, feats = complementary_features()
    oof = {name: out_of_fold_probabilities(x, y, 2, folds=3, seed=0) for name, x in feats.items()}
    selection = greedy_selection(oof, y, max_members=3)
    single = min(oof, key=lambda name: log_loss(y, oof[name]))
    assert selection.best_single == single
    assert sorted(selection.members) == ["left", "right"]  # "weak" makes it worse: not added
    pair = log_loss(y, (oof["left"] + oof["right"]) / 2)
    assert selection.steps[-1].log_loss == pytest.approx(pair)
    assert pair < min(log_loss(y, p) for p in oof.values()) - 0.03
    assert selection.steps[-1].accuracy > max(float((p.argmax(1) == y).mean())
                                              for p in oof.values())


def test_greedy_selection_stops_at_one_where_averaging_loses():
    y = np.arange(100) % 2
    sure = np.eye(2)[y] * 0.98 + 0.01
    noisy = np.full((100, 2), 0.5)
    selection = greedy_selection({"noisy": noisy, "sure": sure}, y, max_members=3)
    assert selection.members == ["sure"]
    decision = decide(selection, 0.9, 0.9)
    assert not decision.kept and "no candidate lowered" in decision.reason
    forced = greedy_selection({"noisy": noisy, "sure": sure}, y, max_members=3, min_members=2)
    assert forced.members == ["sure", "noisy"] and forced.steps[1].log_loss > forced.steps[0].log_loss


def test_decision_needs_both_log_loss_and_validation_accuracy():
    steps = [SelectionStep(["a"], 0.40, 0.9), SelectionStep(["a", "b"], 0.30, 0.92)]
    selection = Selection(steps, {"a": 0.40, "b": 0.45})
    assert decide(selection, 0.90, 0.90).kept  # ties on validation: not worse
    lost = decide(selection, 0.90, 0.88)
    assert not lost.kept and "validation accuracy" in lost.reason
    assert lost.ensemble_log_loss == 0.30 and lost.single_val_accuracy == 0.90
    worse = Selection([steps[0], SelectionStep(["a", "b"], 0.41, 0.9)], {})
    assert not decide(worse, 0.9, 0.95).kept


# -- the module and its file ------------------------------------------------------------------
SMALL = Preprocessing(32, 36, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
LARGE = Preprocessing(40, 45, (0.45, 0.40, 0.35), (0.30, 0.20, 0.25))


def tiny_model(seed: int, classes: int = 3) -> TransferModel:
    torch.manual_seed(seed)
    return TransferModel(TinyNet(), 16, classes, 0.2).eval()


def test_each_member_sees_its_own_size_and_normalisation():
    small, large = tiny_model(1), tiny_model(2)
    ensemble = EnsembleModel([small, large], [SMALL, LARGE], [16, 16]).eval()
    assert ensemble.preprocessing == LARGE  # the largest input
    pixels = torch.rand(2, 3, 40, 40)  # in [0, 1], at the ensemble's input size
    x = (pixels - torch.tensor(LARGE.mean).view(1, 3, 1, 1)) / torch.tensor(LARGE.std).view(1, 3, 1, 1)

    def own(model, pre, image):
        norm = (image - torch.tensor(pre.mean).view(1, 3, 1, 1)) / torch.tensor(pre.std).view(1, 3, 1, 1)
        return torch.softmax(model(norm), 1)

    small_pixels = F.interpolate(pixels, size=(32, 32), mode="bilinear", align_corners=False)
    expected = (own(small, SMALL, small_pixels) + own(large, LARGE, pixels)) / 2
    with torch.no_grad():
        got = torch.softmax(ensemble(x), 1)
        assert torch.allclose(got, expected, atol=1e-5)
        features = ensemble.backbone(x)
        assert features.shape == (2, 32)
        assert torch.allclose(torch.softmax(ensemble.head(features), 1), got)


@pytest.fixture
def two_tiny(tmp_path_factory):
    """Two tiny backbones with other weights, input sizes and normalisations."""
    folder = tmp_path_factory.mktemp("tiny2")
    torch.manual_seed(7)
    torch.save(TinyNet().state_dict(), folder / "b.pth")
    a = tiny_spec(folder / "a.pth", "tiny_a")
    b = dataclasses.replace(tiny_spec(folder / "b.pth", "tiny_b"), preprocessing=LARGE,
                            display_name="Tiny test net B")
    for spec in (a, b):
        register_backbone(spec)
    yield a, b
    for spec in (a, b):
        unregister_backbone(spec.name)


def test_the_file_round_trips_weights_only_and_refuses_damage(two_tiny, tmp_path):
    a, b = two_tiny
    members = [(tiny_model(1), a), (tiny_model(2), b)]
    path = save_ensemble(tmp_path / "model.pt", members, ["x", "y", "z"], 0.2,
                         selection={"members": ["tiny_a", "tiny_b"], "log_loss": 0.25})
    loaded = load_model(path)
    assert isinstance(loaded, LoadedEnsemble) and loaded.class_names == ["x", "y", "z"]
    assert [m.spec.name for m in loaded.members] == ["tiny_a", "tiny_b"]
    assert loaded.preprocessing == LARGE and loaded.spec.feature_dim == 32
    original = EnsembleModel([m for m, _ in members], [SMALL, LARGE], [16, 16]).eval()
    x = torch.randn(3, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), original(x), atol=1e-6)
    with pytest.raises(UserError, match="one map per member"):  # a clear word, not a crash
        list(explain_images(loaded, [str(tmp_path / "any.png")]))
    raw = torch.load(path, weights_only=True)
    raw["members"][1]["class_names"] = ["x", "z", "y"]
    torch.save(raw, tmp_path / "swapped.pt")
    with pytest.raises(ModelFileError, match="other classes"):
        load_model(tmp_path / "swapped.pt")
    raw = torch.load(path, weights_only=True)
    key = next(iter(raw["members"][0]["state_dict"]))
    raw["members"][0]["state_dict"][key] = raw["members"][0]["state_dict"][key].float() * np.nan
    torch.save(raw, tmp_path / "nan.pt")
    with pytest.raises(ModelFileError, match="Member 1.*NaN"):
        load_model(tmp_path / "nan.pt")
    raw = torch.load(path, weights_only=True)
    raw["members"] = raw["members"][:1]
    torch.save(raw, tmp_path / "one.pt")
    with pytest.raises(ModelFileError, match="2 to 5 members"):
        load_model(tmp_path / "one.pt")


# -- a run folder that evaluate, predict and export read --------------------------------------
def test_ensemble_run_evaluates_predicts_and_exports(two_tiny, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "colors", per_class=15, layout="splits")
    out = tmp_path / "run"
    assert main(["ensemble", str(data), "--out", str(out), "--backbones", "tiny_a", "tiny_b",
                 "--folds", "3", "--keep-ensemble", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kept"] == "ensemble" and report["selection"]["members"][0] in ("tiny_a", "tiny_b")
    assert sorted(report["selection"]["members"]) == ["tiny_a", "tiny_b"]
    assert {c["backbone"] for c in report["candidates"]} == {"tiny_a", "tiny_b"}
    run = Run.open(out)
    assert run.config_dict()["ensemble"]["members"] == report["selection"]["members"]
    assert run.result()["kept"] == "ensemble"
    loaded = load_model(out)
    assert isinstance(loaded, LoadedEnsemble)
    saved = run.evaluation()["splits"]["val"]
    assert saved["num_samples"] == report["num_val"] == 15
    assert saved["accuracy"] == pytest.approx(report["saved_val_accuracy"])

    assert main(["evaluate", str(out), "--out", str(tmp_path / "scores.json")]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["split"] == "val" and scores["accuracy"] == pytest.approx(saved["accuracy"])
    capsys.readouterr()
    assert main(["predict", str(out), str(data / "val" / "red")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all("\t" in line for line in lines)
    assert main(["compare", str(out)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert "+".join(report["selection"]["members"]) in row and f"{saved['accuracy']:.1%}" in row
    assert main(["cam", str(out), str(data / "val" / "red"), "--out", str(tmp_path / "cams")]) == 0
    for member in ("tiny_a", "tiny_b"):  # CAM per member
        assert len(list((tmp_path / "cams").glob(f"*_{member}_cam.png"))) == 5
    for fmt, name in (("torchscript", "model.ts"), ("onnx", "model.onnx"), ("bundle", "b")):
        result = export_run(out, fmt, tmp_path / name)
        assert result.passed and result.check.images_checked == 15
        assert result.check.max_prob_diff <= 1e-4
    assert "average of the class probabilities of 2" in (tmp_path / "b" / "README.md").read_text()



def test_an_ensemble_that_loses_once_saved_leaves_the_best_single_model(two_tiny, tmp_path,
                                                                         monkeypatch):
    """Chosen on cached features, the ensemble is kept only if the model.pt as written (each
    member's input resampled inside the module) still scores at least the best single's
    validation accuracy; here its saved score is made to lose."""
    from transfer_gui.core.ensemble import build, writing
    from transfer_gui.core.ensemble.selection import Decision

    from transfer_gui.core.heads import fit_head

    monkeypatch.setattr(build, "fit_head", lambda *a, **k: fit_head(*a, l2=1e-3, **k))  # faster
    monkeypatch.setattr(build, "greedy_selection", lambda oof, y, most, min_members:
                        greedy_selection(oof, y, most, min_members=2))
    monkeypatch.setattr(build, "decide", lambda selection, single, ensemble: Decision(
        True, "made to win", 0.3, 0.2, single, ensemble))

    def scores(path, *args):
        evaluation = writing.score_saved(path, *args)
        if isinstance(load_model(path), LoadedEnsemble):
            evaluation["splits"]["val"]["accuracy"] = -1.0
        return evaluation

    monkeypatch.setattr(build, "score_saved", scores)
    data = make_color_dataset(tmp_path / "colors", per_class=9, layout="splits")
    report = build_ensemble(str(data), tmp_path / "run", ["tiny_a", "tiny_b"], folds=3,
                            cache=FeatureCache(), keep_ensemble=False)
    assert len(report.selection.members) == 2 and not report.decision.kept
    assert "through its own input" in report.decision.reason
    assert report.kept == report.selection.best_single
    assert not isinstance(load_model(tmp_path / "run"), LoadedEnsemble)
    run = Run.open(tmp_path / "run")
    assert run.result()["kept"] == "feature_extraction"
    assert run.config_dict()["backbone"] == report.kept
    assert run.config_dict()["ensemble"]["members"] == []


def test_ensemble_refuses_bad_input_before_any_work(two_tiny, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "colors", per_class=6)
    assert main(["ensemble", str(data), "--out", str(tmp_path / "r"), "--backbones", "tiny_a",
                 "--folds", "3"]) == 2
    assert "at least 2 backbones" in capsys.readouterr().err
    assert main(["ensemble", str(data), "--out", str(tmp_path / "r"), "--backbones", "tiny_a",
                 "tiny_b", "--max-members", "6"]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "note.txt").write_text("x")
    assert main(["ensemble", str(data), "--out", str(tmp_path / "full"), "--backbones",
                 "tiny_a", "tiny_b", "--folds", "3"]) == 2
    assert "not a run" in capsys.readouterr().err
