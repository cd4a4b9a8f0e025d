"""Model export: TorchScript, ONNX and the bundle, each checked against the in-app model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.export import ExportCheckError, check_export, export_run, load_validation_set
from transfer_gui.core.export import run as export_run_module
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.model_file import load_model
from transfer_gui.core.predict import predict_images
from transfer_gui.core.inputs import InputPipeline
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run

HAS_ORT = importlib.util.find_spec("onnxruntime") is not None
NEEDS_ORT = pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed "
                               "(pip install 'transfer-gui[onnx]'): the ONNX check cannot run")


@pytest.fixture
def run_dir(tiny_backbone, color_dataset, tmp_path):
    out = tmp_path / "run"
    train_run(TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                   epochs=3, batch_size=8, head_l2=0.3), out,
              feature_cache=FeatureCache())  # a strong L2: soft probabilities a tiny edit moves
    return out


def _direct_probs(run_dir, score):
    """In-app and exported probabilities on the validation set, computed here independently."""
    loaded = load_model(run_dir)
    valset = load_validation_set(run_dir, loaded)
    x = InputPipeline(loaded.preprocessing).eval_batch(valset.arrays)
    with torch.no_grad():
        expected = torch.softmax(loaded.model(x), 1).numpy()
        return expected, torch.softmax(torch.as_tensor(score(x)), 1).numpy()


def _assert_same(expected, got):
    assert (expected.argmax(1) == got.argmax(1)).all()
    assert np.abs(expected - got).max() <= 1e-4


def test_torchscript_round_trip(run_dir, tmp_path):
    result = export_run(run_dir, "torchscript", tmp_path / "model.ts")
    check = result.check
    assert check.passed and not check.skipped and check.images_checked == 3
    assert check.mismatches == [] and check.max_prob_diff <= 1e-4 and "passed" in check.message
    module = torch.jit.load(str(tmp_path / "model.ts"))
    _assert_same(*_direct_probs(run_dir, module))
    assert module(torch.zeros(5, 3, 32, 32)).shape == (5, 3)  # any batch size


@NEEDS_ORT
def test_onnx_round_trip(run_dir, tmp_path):
    import onnx
    import onnxruntime

    path = tmp_path / "model.onnx"
    result = export_run(run_dir, "onnx", path)
    assert result.check.passed and result.check.images_checked == 3
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _assert_same(*_direct_probs(run_dir, lambda x: session.run(None, {"input": x.numpy()})[0]))
    assert session.run(None, {"input": np.zeros((7, 3, 32, 32), np.float32)})[0].shape == (7, 3)


def test_onnx_check_without_onnxruntime_says_skipped(run_dir, tmp_path, monkeypatch):
    pytest.importorskip("onnx", reason="the ONNX exporter needs the onnx package")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    result = export_run(run_dir, "onnx", tmp_path / "model.onnx")
    assert result.check.skipped and not result.check.passed
    assert "skipped: onnxruntime not installed" in result.check.message
    assert (tmp_path / "model.onnx").is_file()


def test_bundle_files_and_predict_script(run_dir, color_dataset, tmp_path):
    bundle = tmp_path / "bundle"
    result = export_run(run_dir, "bundle", bundle)
    assert result.check.passed and result.check.max_score_diff <= 1e-4
    assert "unlike-the-training-data scores within" in result.check.message
    for name in ("model.pt", "state_dict.pt", "labels.json", "preprocessing.json", "README.md",
                 "confusion_matrix.png", "predict.py"):
        assert (bundle / name).is_file(), name
    assert json.loads((bundle / "labels.json").read_text()) == ["blue", "green", "red"]
    pre = json.loads((bundle / "preprocessing.json").read_text())
    assert pre["input_size"] == 32 and pre["resize_size"] == 36 and pre["how_to_prepare"]
    card = (bundle / "README.md").read_text()
    for words in ("## Dataset", "## Metrics", "## Training configuration", "Intended use",
                  "confusion_matrix.png", "feature_extraction", "macro-F1"):
        assert words in card, words
    from PIL import Image

    assert Image.open(bundle / "confusion_matrix.png").size[0] > 50
    source = (bundle / "predict.py").read_text()
    assert "transfer_gui" not in source
    images = sorted(str(p) for p in color_dataset.rglob("*.png"))[::6]
    for name, colour in (("white.png", (255, 255, 255)), ("grey.png", (128, 128, 128))):
        Image.new("RGB", (48, 48), colour).save(tmp_path / name)  # unlike the colour classes
        images.append(str(tmp_path / name))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", "predict.py", *images], cwd=bundle, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split("\t") for line in proc.stdout.splitlines()]
    assert all(len(fields) == 5 for fields in lines), lines
    got = {fields[0]: fields[1] for fields in lines}
    in_app = {p.path: p for p in predict_images(load_model(run_dir), images)}
    assert got == {path: p.predicted for path, p in in_app.items()} and len(got) == len(images)
    # The "unlike the training data" score and flag: the app's, from the shipped detector.
    assert (bundle / "unlike_training.pt").is_file() and "## Unlike the training data" in card
    for path, _, _, score, flag in lines:
        assert float(score) == pytest.approx(in_app[path].unlike_score, abs=1e-4)
        assert flag == ("not like any training class" if in_app[path].unlike_training else "")
    assert [p.unlike_training for p in in_app.values()].count(True) >= 2  # the plain pictures


def test_tampered_export_fails_the_check_and_stays_on_disk(run_dir, tmp_path, monkeypatch):
    real = export_run_module._export_module

    def noisy(loaded):
        model = real(loaded)
        with torch.no_grad():
            model.head[1].weight.neg_()  # flips the ranking: far beyond any rounding
        return model

    monkeypatch.setattr(export_run_module, "_export_module", noisy)
    with pytest.raises(ExportCheckError, match="FAILED") as info:
        export_run(run_dir, "torchscript", tmp_path / "bad.ts")
    assert not info.value.result.passed and info.value.result.max_prob_diff > 1e-4
    assert (tmp_path / "bad.ts").is_file()


def test_edited_torchscript_weights_fail_the_check(run_dir, tmp_path):
    path = tmp_path / "model.ts"
    export_run(run_dir, "torchscript", path)
    module = torch.jit.load(str(path))
    with torch.no_grad():
        dict(module.named_parameters())["head.1.bias"].add_(torch.tensor([0.0, 0.0, 1e-2]))  # tiny: classes may not change
    torch.jit.save(module, str(path))
    loaded = load_model(run_dir)
    with pytest.raises(ExportCheckError):
        check_export(loaded, "torchscript", path, load_validation_set(run_dir, loaded))


def test_cli_export_prints_the_check(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), "--format", "torchscript",
                 "--out", str(tmp_path / "m.ts")]) == 0
    out = capsys.readouterr().out
    assert "check passed" in out and "images checked: 3" in out and "passed: True" in out


def test_cli_export_without_the_dataset_folder_exits_2(run_dir, color_dataset, tmp_path, capsys):
    import shutil

    shutil.rmtree(color_dataset)
    assert main(["export", str(run_dir), "--format", "bundle", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert str(color_dataset) in err and "needs the run's dataset folder" in err
    assert not (tmp_path / "b").exists()


def test_real_lite0_torchscript_and_onnx(color_dataset, tmp_path):
    started = time.perf_counter()
    run = tmp_path / "run"
    train_run(TrainConfig.for_mode(str(color_dataset), "feature_extraction", epochs=1,
                                   batch_size=8), run, feature_cache=FeatureCache(),
              allow_download=False)
    assert export_run(run, "torchscript", tmp_path / "lite0.ts").check.passed
    if HAS_ORT and importlib.util.find_spec("onnx") is not None:
        assert export_run(run, "onnx", tmp_path / "lite0.onnx").check.passed
    assert time.perf_counter() - started < 60
