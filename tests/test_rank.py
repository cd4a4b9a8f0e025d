"""`rank_backbones` and `transfer-gui rank`: the scores (k-NN and LogME against obvious slow
versions), the recommendation, JSON output, offline backbones and bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from synthetic import TinyNet, make_color_dataset
from transfer_gui.cli import main
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.rank import BackboneRank, Ranking, backbones_to_rank, best_first, rank_backbones
from transfer_gui.core.transferability import knn_accuracy, logme, logme_per_class


# -- k-NN -------------------------------------------------------------------------------------
def brute_force_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """One image at a time: cosine similarity to every other, k best, majority, ties by the
    summed similarity."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    correct = 0
    for i in range(len(y)):
        others = [j for j in range(len(y)) if j != i]
        sims = {j: float(x[i] @ x[j]) for j in others}
        nearest = sorted(others, key=lambda j: -sims[j])[:k]
        votes, closeness = {}, {}
        for j in nearest:
            votes[y[j]] = votes.get(y[j], 0) + 1
            closeness[y[j]] = closeness.get(y[j], 0.0) + sims[j]
        winner = max(votes, key=lambda c: (votes[c], closeness[c]))
        correct += winner == y[i]
    return correct / len(y)


@pytest.mark.parametrize("k", [1, 4, 5, 50])
def test_knn_matches_a_brute_force_loop(k, monkeypatch):
    from transfer_gui.core import transferability

    monkeypatch.setattr(transferability, "KNN_BLOCK", 7)  # several blocks
    rng = np.random.default_rng(k)
    y = rng.integers(0, 3, 40)
    x = rng.normal(size=(40, 6)) + 0.8 * np.eye(6)[y]
    assert knn_accuracy(x, y, k) == pytest.approx(brute_force_knn(x, y, min(k, 39)))


def test_knn_excludes_each_image_itself():
    x = np.eye(4)  # every image is orthogonal to the others: only itself would match
    assert knn_accuracy(x, np.arange(4), 1) == 0.0


# -- LogME ------------------------------------------------------------------------------------
def direct_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> tuple[float, float]:
    """The evidence per image at (alpha, beta), two obvious ways: the paper's formula with the
    D x D matrix A, and the log density of y under N(0, F F^T / alpha + I / beta)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    formula = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - beta / 2 * np.sum((f @ m - y) ** 2)
               - alpha / 2 * m @ m - np.linalg.slogdet(a)[1] / 2 - n / 2 * np.log(2 * np.pi))
    cov = f @ f.T / alpha + np.eye(n) / beta
    density = (-y @ np.linalg.solve(cov, y) / 2 - np.linalg.slogdet(cov)[1] / 2
               - n / 2 * np.log(2 * np.pi))
    return formula / n, density / n


@pytest.mark.parametrize("n, d", [(40, 8), (15, 24)])  # more images than dimensions, and fewer
def test_logme_is_the_evidence_at_its_maximum(n, d):
    rng = np.random.default_rng(n)
    y = np.arange(n) % 3
    f = rng.normal(size=(n, d)) + 1.5 * np.eye(d)[y]
    for c, found in enumerate(logme_per_class(f, y)):
        target = (y == c).astype(float)
        formula, density = direct_evidence(f, target, found.alpha, found.beta)
        assert found.evidence == pytest.approx(formula, abs=1e-9)
        assert found.evidence == pytest.approx(density, abs=1e-9)
        for da, db in [(1.1, 1), (1 / 1.1, 1), (1, 1.1), (1, 1 / 1.1)]:  # a maximum
            assert direct_evidence(f, target, found.alpha * da, found.beta * db)[0] \
                <= found.evidence + 1e-12
    assert logme(f, y) == pytest.approx(np.mean([c.evidence for c in logme_per_class(f, y)]))


def test_logme_ranks_separated_features_above_random_ones_whatever_their_scale():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    separated = rng.normal(size=(200, 32)) + 3 * np.eye(32)[y]
    noise = rng.normal(size=(200, 32))
    assert logme(separated, y) > logme(noise, y) + 0.2
    assert logme(100 * separated, y) == pytest.approx(logme(separated, y), abs=1e-6)
    assert math.isfinite(logme(rng.normal(size=(20, 1280)), y[:20]))  # fewer images than dims


# -- ranking ----------------------------------------------------------------------------------
class BlindNet(TinyNet):
    """TinyNet's weights, but features that ignore the image: a backbone that cannot help."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(len(x), 16, generator=torch.Generator().manual_seed(len(x)))


@pytest.fixture
def two_backbones(tiny_backbone):
    blind = dataclasses.replace(tiny_backbone, name="blind_test", display_name="Blind test net",
                                build_network=BlindNet)
    register_backbone(blind)
    yield ["blind_test", "tiny_test"]
    unregister_backbone("blind_test")


def test_ranking_recommends_the_best_probe_and_reuses_cached_features(two_backbones, tmp_path,
                                                                      backbone_calls):
    data = make_color_dataset(tmp_path / "d", per_class=10)
    cache = FeatureCache()
    result = rank_backbones(str(data), two_backbones, folds=3, cache=cache)
    assert [r.backbone for r in result.ranked] == ["tiny_test", "blind_test"]
    assert result.recommended.backbone == "tiny_test" and result.num_images == 30
    good, blind = result.ranked
    assert good.cv_accuracy >= 0.9 and blind.cv_accuracy <= 0.7 and len(good.fold_accuracies) == 3
    assert good.knn_accuracy > blind.knn_accuracy and good.logme > blind.logme
    for r in result.ranked:
        assert 0 <= r.cv_accuracy <= 1 and 0 <= r.knn_accuracy <= 1 and 0 <= r.cv_std
        assert math.isfinite(r.logme) and r.feature_seconds >= 0 and r.computed_images == 30
    assert result.fine_tuning_seconds > 0 and result.fine_tuning_epochs >= 1
    assert "Tiny test net (tiny_test)" in result.recommendation()
    assert "Fine-tuning Tiny test net on these 30 images would take about" in result.recommendation()
    calls = len(backbone_calls)
    again = rank_backbones(str(data), two_backbones, folds=3, cache=cache, estimate=False)
    assert len(backbone_calls) == calls  # every feature from the cache
    assert [r.computed_images for r in again.ranked] == [0, 0]
    assert again.ranked[0].cv_accuracy == good.cv_accuracy and again.fine_tuning_seconds is None


def _rank(name: str, cv: float, logme_value: float, gflops: float) -> BackboneRank:
    return BackboneRank(name, name.upper(), gflops, cv, 0.0, [cv], cv, logme_value, 0, 0, 0)


def test_ties_go_to_logme_then_to_the_cheaper_backbone():
    ranks = [_rank("a", .9, 0.1, 1), _rank("b", .9, 0.3, 2), _rank("c", .95, -1, 9),
             _rank("d", .9, 0.3, 0.5)]
    assert [r.backbone for r in best_first(ranks)] == ["c", "d", "b", "a"]
    tied = Ranking("x", 5, 0, 5, ["p", "q"], 10, ranked=best_first(ranks[:2]))
    assert "ties with A and is chosen for its higher LogME" in tied.recommendation()  # display name


def test_rank_command_prints_json(two_backbones, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", per_class=6)
    assert main(["rank", str(data), "--backbones", *two_backbones, "--folds", "3", "--json",
                 "--no-estimate"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recommended"] == "tiny_test" and out["folds"] == 3
    assert [r["backbone"] for r in out["ranked"]] == ["tiny_test", "blind_test"]
    assert set(out["ranked"][0]) >= {"cv_accuracy", "cv_std", "knn_accuracy", "logme",
                                     "feature_seconds", "score_seconds"}
    assert out["recommendation"].startswith("Use Tiny test net")
    assert main(["rank", str(data), "--backbones", "tiny_test", "--folds", "3",
                 "--no-estimate"]) == 0
    text = capsys.readouterr().out
    assert "tiny_test" in text and "(cached)" in text and "Use Tiny test net" in text


def test_rank_command_refuses_bad_input_with_exit_2(tiny_backbone, tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", per_class=4)
    assert main(["rank", str(data), "--backbones", "tiny_test", "--folds", "5"]) == 2
    assert "--folds 4" in capsys.readouterr().err
    assert main(["rank", str(tmp_path / "missing"), "--backbones", "tiny_test"]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["rank", str(data), "--backbones", "no_such_net"])
    assert exit_.value.code == 2 and "no_such_net" in capsys.readouterr().err


def test_backbones_without_weights_are_listed_not_ranked_unless_named(tiny_backbone, tmp_path,
                                                                      capsys):
    from weights_server import served_backbone

    data = make_color_dataset(tmp_path / "d", per_class=6)
    with served_backbone(tmp_path / "server", "served_test") as (spec, _, _):
        here, missing = backbones_to_rank()
        assert "served_test" in missing and "tiny_test" in [s.name for s in here]
        assert main(["rank", str(data), "--backbones", "served_test", "--offline"]) == 2
        assert "served_test is not available offline" in capsys.readouterr().err
        assert main(["rank", str(data), "--backbones", "served_test", "tiny_test", "--offline",
                     "--folds", "3", "--no-estimate"]) == 0
        assert "Not ranked, their weights are not on this computer: served_test" \
            in capsys.readouterr().out
        # named and allowed to download (the default): fetched from the test server, ranked
        assert main(["rank", str(data), "--backbones", "served_test", "--folds", "3",
                     "--no-estimate", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["recommended"] == "served_test"
