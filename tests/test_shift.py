"""Dataset shift (issue 14): the kernel MMD test, "Compare with new images", recalibration and
`transfer-gui shift`.

The shift is generated (tests/shift_images.py): the same shape classes with a colour cast, a blur
and another background. The statistical tests run on the bundled pretrained Lite0's features (a
feature-extraction model's backbone is that network, so these are what its head sees); the
plumbing (CLI, job, files written) runs on the tiny test backbone; the end-to-end recalibration
figure trains a Lite0 model and is marked slow.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from shift_images import SHIFTED, SOURCE, make_domain_folder
from synthetic import make_color_dataset, tiny_spec
from transfer_gui.cli import main
from transfer_gui.core.errors import UserError
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.shift import CLEAR, NONE, mmd_test


# ------------------------------------------------------------------ the statistic itself

def _naive_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / bandwidth)

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def test_mmd_matches_the_textbook_formula_and_is_seeded():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(23, 5)), rng.normal(0.3, 1.2, size=(17, 5))
    test = mmd_test(x, y, permutations=200, seed=1)
    assert test.mmd2 == pytest.approx(_naive_mmd2(x, y, test.bandwidth), rel=1e-9)
    z = np.vstack([x, y])
    d = ((z[:, None] - z[None]) ** 2).sum(-1)
    assert test.bandwidth == pytest.approx(np.median(d[np.triu_indices(len(z), 1)]))
    assert mmd_test(x, y, permutations=200, seed=1) == test
    assert (test.n_reference, test.n_new, test.permutations) == (23, 17, 200)


def test_mmd_permutation_p_values_are_calibrated_under_no_shift():
    """Same distribution on both sides: p <= 0.05 in about 5% of draws (a valid test)."""
    rng = np.random.default_rng(7)
    p = np.array([mmd_test(rng.normal(size=(30, 8)), rng.normal(size=(30, 8)), seed=s,
                           permutations=200).p_value for s in range(300)])
    assert 0.02 <= np.mean(p <= 0.05) <= 0.09
    assert 0.4 <= np.mean(p <= 0.5) <= 0.6


def test_per_class_p_values_are_adjusted_for_the_classes_tested():
    from transfer_gui.core.shift import compare_features, holm_adjusted

    assert holm_adjusted([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    rng = np.random.default_rng(2)
    ref, new = rng.normal(size=(60, 6)), rng.normal(size=(40, 6))
    new[:10] += 3.0  # class 0's new images are far off
    overall, per_class = compare_features(ref, np.arange(60) % 3, new,
                                          np.r_[[0] * 10, [1] * 15, [2] * 13, [0, 1]], "abc",
                                          permutations=300)
    assert [c.n_new for c in per_class] == [11, 16, 13]
    raw = [c.test.p_value for c in per_class]
    assert [c.adjusted_p for c in per_class] == pytest.approx(holm_adjusted(raw))
    assert per_class[0].adjusted_p < 0.01 and overall.p_value < 0.01


def test_mmd_caps_each_side():
    rng = np.random.default_rng(0)
    test = mmd_test(rng.normal(size=(900, 4)), rng.normal(size=(40, 4)), max_per_side=100,
                    permutations=50)
    assert (test.n_reference, test.n_new) == (100, 40)


# ------------------------------------------------------------------ on Lite0 features

@pytest.fixture(scope="module")
def lite0_features(tmp_path_factory):
    """Pretrained Lite0 features of 3 x 30 source images and 3 x 15 shifted ones."""
    from transfer_gui.core.features import dataset_features
    from transfer_gui.core.models import get_backbone
    from transfer_gui.core.predict import collect_images

    root = tmp_path_factory.mktemp("domains")
    source = collect_images([make_domain_folder(root / "source", SOURCE, 30, seed=0)])
    shifted = collect_images([make_domain_folder(root / "shifted", SHIFTED, 15, seed=1)])
    found = dataset_features(get_backbone("efficientnet_lite0"), source + shifted,
                             cache=FeatureCache())
    assert not found.failures
    x = found.center(range(len(found.files)))
    return x[:len(source)], x[len(source):]


def test_shifted_folder_is_told_apart_at_p_below_001(lite0_features):
    source, shifted = lite0_features
    test = mmd_test(source, shifted, seed=0)
    assert test.p_value < 0.01, test
    halves = mmd_test(source[::2], source[1::2], seed=0)
    assert test.mmd2 > 10 * max(halves.mmd2, 1e-6)


def test_halves_of_one_folder_are_not_flagged(lite0_features):
    """Random halves of the unshifted folder: p > 0.05 in at least 90% of 100 seeds."""
    source, _ = lite0_features
    passed = 0
    for seed in range(100):
        order = np.random.default_rng(seed).permutation(len(source))
        half = len(source) // 2
        test = mmd_test(source[order[:half]], source[order[half:]], seed=seed, permutations=500)
        passed += test.p_value > 0.05
    print(f"halves not flagged: {passed}/100")
    assert passed >= 90


# ------------------------------------------------------------------ plumbing on the tiny backbone

@pytest.fixture(scope="module")
def tiny_module_backbone(tmp_path_factory):
    """The tiny test backbone, registered for this module's tests (one training for them all)."""
    from transfer_gui.core.models import register_backbone, unregister_backbone

    spec = tiny_spec(tmp_path_factory.mktemp("tiny") / "tiny.pth")
    register_backbone(spec)
    yield spec
    unregister_backbone(spec.name)


@pytest.fixture(scope="module")
def tiny_run(tiny_module_backbone, tmp_path_factory):
    """(run folder of a tiny feature-extraction model on colours, a folder of new images).
    Tests must not write into either (they check the run folder is untouched)."""
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    tmp = tmp_path_factory.mktemp("tiny_run")
    data = make_color_dataset(tmp / "colors", per_class=12)
    run = tmp / "run"
    train_run(TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                   epochs=3, batch_size=8), run, feature_cache=FeatureCache())
    new = make_color_dataset(tmp / "new", per_class=8, seed=5)
    return run, new


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_cli_shift_reports_json_and_recalibrates_beside_the_run(tiny_run, tmp_path, capsys):
    from transfer_gui.core.model_file import load_model
    from transfer_gui.core.training.batchnorm import batch_norm_layers

    run, new = tiny_run
    before = _digest(run)
    out = tmp_path / "recalibrated.pt"
    assert main(["shift", str(run), str(new), "--json", "--permutations", "100",
                 "--recalibrate", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    shift = printed["shift"]
    assert shift["overall"]["n_new"] == 24 and 0 < shift["overall"]["p_value"] <= 1
    assert [c["name"] for c in shift["per_class"]] == load_model(run).class_names
    assert sum(c["n_new"] for c in shift["per_class"]) == 24
    assert shift["level"] in ("clear", "some", "none") and shift["summary"]
    assert printed["recalibration"]["saved"] == str(out)
    assert _digest(run) == before  # nothing written into the run folder, model.pt untouched
    original, recalibrated = load_model(run), load_model(out)
    assert original.class_names == recalibrated.class_names
    means = [(a.running_mean, b.running_mean) for a, b in
             zip(batch_norm_layers(original.model), batch_norm_layers(recalibrated.model))]
    assert any(not torch.allclose(a, b) for a, b in means)
    assert main(["shift", str(run), str(new), "--recalibrate", str(out)]) == 2  # exists
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing_dir", "into_run", "over_original", "labelled_alone",
                                  "model_without_run", "bad_labelled", "empty_dir"])
def test_cli_shift_bad_input_exits_2_naming_it(tiny_run, tmp_path, capsys, case):
    run, new = tiny_run
    model = run / "model.pt"
    lone = tmp_path / "lone" / "model.pt"
    lone.parent.mkdir()
    shutil.copy(model, lone)
    (tmp_path / "empty").mkdir()
    labelled = tmp_path / "labelled"
    (labelled / "purple").mkdir(parents=True)
    args, words = {
        "missing_dir": ([str(run), str(tmp_path / "nope")], "is not a folder"),
        "into_run": ([str(run), str(new), "--recalibrate", str(run / "x.pt")],
                     "only training writes"),
        "over_original": ([str(model), str(new), "--recalibrate", str(model)],
                          "is the original model"),
        "labelled_alone": ([str(run), str(new), "--labelled", str(labelled)], "--recalibrate"),
        "model_without_run": ([str(lone), str(new), "--recalibrate", str(tmp_path / "o.pt")],
                              "run folder"),
        "bad_labelled": ([str(run), str(new), "--recalibrate", str(tmp_path / "o.pt"),
                          "--labelled", str(labelled)], "purple is not"),
        "empty_dir": ([str(run), str(tmp_path / "empty")], "holds no image files"),
    }[case]
    before = _digest(run)
    assert main(["shift", *args]) == 2
    assert words in capsys.readouterr().err
    assert _digest(run) == before and not (tmp_path / "o.pt").exists()


def test_a_model_file_alone_compares_with_its_stored_training_sample(tiny_run, tmp_path):
    """A model.pt outside its run folder still compares: training stored a sample of training
    features in it (core/ood.py); its "unlike the training data" score gives the share flagged."""
    from transfer_gui.core.model_file import load_model
    from transfer_gui.core.ood import reference_features
    from transfer_gui.core.shift_compare import compare_new_images

    run, new = tiny_run
    lone = tmp_path / "lone.pt"
    shutil.copy(run / "model.pt", lone)
    stored, _ = reference_features(load_model(lone))
    report = compare_new_images(lone, new, permutations=200)
    assert report.reference_images == len(stored) and report.compared_new == 24
    assert report.flagged_share is not None and 0.0 <= report.flagged_share <= 1.0
    assert (f"{report.flagged_share:.0%} of the new images are flagged “not like any training "
            f"class”") in report.summary()


def test_an_older_model_compares_with_its_runs_training_images(tiny_run, tmp_path):
    """Without a stored sample (models trained before it existed) the run's training images are
    rescanned and passed through the model's backbone; no share flagged is claimed."""
    from transfer_gui.core.run import Run
    from transfer_gui.core.shift_compare import compare_new_images

    run, new = tiny_run
    old = tmp_path / "old_run"
    shutil.copytree(run, old)
    data = torch.load(old / "model.pt", weights_only=True)
    for key in ("ood", "feature_reference"):
        data.pop(key, None)
    torch.save(data, old / "model.pt")
    report = compare_new_images(old, new, permutations=200)
    assert report.reference_images == len(Run(old).dataset().split("train"))
    assert report.flagged_share is None and "flagged" not in report.summary()
    alone = tmp_path / "alone" / "model.pt"  # such a model outside its run: nothing to compare
    alone.parent.mkdir()
    shutil.copy(old / "model.pt", alone)
    with pytest.raises(UserError, match="run folder"):
        compare_new_images(alone, new)


def test_labelled_images_keep_the_better_model(tiny_run, tmp_path, capsys, monkeypatch):
    """With labelled images the recalibrated model is saved only when it scores higher."""
    from transfer_gui.core import recalibrate
    from transfer_gui.core.model_file import load_model

    run, new = tiny_run
    labelled = make_color_dataset(tmp_path / "labelled", per_class=4, seed=9)
    scores = iter([0.9, 0.6])  # original, then recalibrated
    monkeypatch.setattr(recalibrate, "accuracy", lambda *a, **k: next(scores))
    out = tmp_path / "r.pt"
    result = recalibrate.recalibrate_to_folder(run, new, out, labelled=labelled)
    assert result.saved is None and not out.exists()
    assert (result.original_accuracy, result.recalibrated_accuracy) == (0.9, 0.6)
    assert result.labelled_images == 12 and "90.0%" in result.summary()
    scores = iter([0.6, 0.9])
    result = recalibrate.recalibrate_to_folder(run, new, out, labelled=labelled)
    assert result.saved == str(out) and out.is_file()
    saved = load_model(out)  # it keeps the original's detector and training-feature sample
    assert set(saved.blocks) == set(load_model(run).blocks) == {"ood", "feature_reference"}


def test_aligning_to_the_reference_images_themselves_changes_nothing(tiny_module_backbone):
    """Source and new images the same (one batch): the model's outputs stay as they were."""
    import copy

    from transfer_gui.core.batchnorm_align import align_batch_norm, batch_norm_input_moments
    from transfer_gui.core.models import make_model

    model = make_model(tiny_module_backbone, 3, pretrained=True).eval()
    images = torch.randn(24, 3, 32, 32) * 0.7 + 0.3
    source = batch_norm_input_moments(model, [images])
    aligned = copy.deepcopy(model)
    assert align_batch_norm(aligned, source, [images]) == 24
    with torch.no_grad():
        assert torch.allclose(aligned(images), model(images), atol=1e-4)
        shifted = images * 1.5 + 0.4
        moved = copy.deepcopy(model)
        align_batch_norm(moved, source, [shifted])
        # the shifted images' features land where the reference images' were
        assert torch.allclose(moved.backbone(shifted).mean(0), model.backbone(images).mean(0),
                              atol=0.05)


def test_shift_job_reports_progress_and_stops(tiny_run):
    from transfer_gui.core.errors import Cancelled
    from transfer_gui.core.jobs.shift import shift_job
    from transfer_gui.core.jobs.state import RecordingState

    run, new = tiny_run
    state = RecordingState()
    report = shift_job(state, str(run / "model.pt"), str(new))
    assert report.compared_new == 24 and report.level in (CLEAR, "some", NONE)
    assert state.progresses and state.progresses[-1].fraction == 1.0
    stopped = RecordingState()
    stopped.cancel.cancel()
    with pytest.raises(Cancelled):
        shift_job(stopped, str(run / "model.pt"), str(new))


# ------------------------------------------------------------------ the whole thing on Lite0

@pytest.mark.slow
def test_recalibration_recovers_lost_accuracy_on_a_generated_shift(tmp_path):
    """Lite0 feature extraction on source images; new shifted images (unlabelled) to
    recalibrate to, and separate labelled shifted images to score on. Target: recover at
    least half of the accuracy lost to the shift."""
    from transfer_gui.core.predict import collect_images
    from transfer_gui.core.recalibrate import accuracy, recalibrate_to_folder
    from transfer_gui.core.model_file import load_model
    from transfer_gui.core.shift_compare import compare_new_images
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    train = make_domain_folder(tmp_path / "train", SOURCE, 30, seed=0)
    same = make_domain_folder(tmp_path / "same", SOURCE, 10, seed=1)
    new = make_domain_folder(tmp_path / "new", SHIFTED, 20, seed=2)
    labelled = make_domain_folder(tmp_path / "labelled", SHIFTED, 15, seed=3)
    cache = FeatureCache()
    run = tmp_path / "run"
    train_run(TrainConfig.for_mode(str(train), "feature_extraction"), run, feature_cache=cache)
    shifted_report = compare_new_images(run, new, cache=cache)
    assert shifted_report.level == CLEAR
    assert compare_new_images(run, same, cache=cache).level == NONE
    loaded = load_model(run)
    files = collect_images([same])
    unshifted = accuracy(loaded, files, [loaded.class_names.index(f.split("/")[-2])
                                         for f in files], [])
    result = recalibrate_to_folder(run, new, tmp_path / "recalibrated.pt", labelled=labelled)
    before, after = result.original_accuracy, result.recalibrated_accuracy
    recovered = (after - before) / max(unshifted - before, 1e-9)
    print(f"accuracy unshifted {unshifted:.3f}, shifted {before:.3f}, shifted after "
          f"recalibration {after:.3f}: recovered {recovered:.0%} of the loss")
    assert unshifted - before >= 0.15  # the shift costs accuracy (else the test proves nothing)
    assert recovered >= 0.5
    # through the recalibrated model the new images land near the stored training features
    after_report = compare_new_images(result.saved, new, cache=cache)
    print(f"MMD² of the new images: {shifted_report.overall.mmd2:.3f} with the original model, "
          f"{after_report.overall.mmd2:.3f} with the recalibrated one; flagged "
          f"{shifted_report.flagged_share:.0%} -> {after_report.flagged_share:.0%}")
    assert after_report.overall.mmd2 < 0.25 * shifted_report.overall.mmd2
