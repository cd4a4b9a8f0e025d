"""Bad output paths and option values get exit 2 and one clear line before any work is done;
Ctrl-C while the command line starts up is one line and exit 130, not a traceback."""

from __future__ import annotations

import pytest
from PIL import Image

from transfer_gui import cli
from transfer_gui.cli import main
from transfer_gui.core import atomic


@pytest.fixture
def model_and_image(tiny_backbone, tmp_path):
    from transfer_gui.core.model_file import save_model
    from transfer_gui.core.models import make_model

    run = tmp_path / "run"
    save_model(run / "model.pt", make_model(tiny_backbone, 2, pretrained=False), tiny_backbone,
               ["cat", "dog"], "feature_extraction", 0.2)
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40), "red").save(image)
    return str(run / "model.pt"), str(image)


def _fails_before_work(args, capsys, named):
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert named in err and "Traceback" not in err
    assert out == ""  # nothing was predicted, explained or exported first
    return err


def test_predict_csv_that_is_a_folder(model_and_image, tmp_path, capsys):
    model, image = model_and_image
    (tmp_path / "out").mkdir()
    err = _fails_before_work(["predict", model, image, "--csv", str(tmp_path / "out")], capsys,
                             "--csv")
    assert "is a folder" in err


def test_predict_csv_inside_a_file(model_and_image, tmp_path, capsys):
    model, image = model_and_image
    err = _fails_before_work(["predict", model, image, "--csv", str(tmp_path / "x.png" / "p.csv")],
                             capsys, str(tmp_path / "x.png"))
    assert "is a file" in err


def test_evaluate_out_that_is_a_folder(model_and_image, tmp_path, capsys):
    model, _ = model_and_image
    _fails_before_work(["evaluate", model, "--data", str(tmp_path), "--out", str(tmp_path)],
                       capsys, "is a folder")


def test_cam_out_that_is_a_file(model_and_image, tmp_path, capsys):
    model, image = model_and_image
    _fails_before_work(["cam", model, image, "--out", image], capsys, "is a file, not a folder")


@pytest.mark.parametrize("fmt, make", [("torchscript", "folder"), ("bundle", "file")])
def test_export_out_of_the_wrong_kind(model_and_image, tmp_path, capsys, fmt, make):
    model, image = model_and_image
    out = tmp_path / "exported"
    out.mkdir() if make == "folder" else out.write_text("x")
    _fails_before_work(["export", str(tmp_path / "run"), "--format", fmt, "--out", str(out)],
                       capsys, str(out))


def test_read_only_output_folder_is_named(model_and_image, tmp_path, capsys, monkeypatch):
    model, image = model_and_image
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
    err = _fails_before_work(["predict", model, image, "--csv", str(tmp_path / "p.csv")], capsys,
                             str(tmp_path))
    assert "read-only" in err or "No permission" in err


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_top_k_must_be_a_positive_number(model_and_image, capsys, value):
    model, image = model_and_image
    with pytest.raises(SystemExit) as caught:
        main(["predict", model, image, "--top-k", value])
    assert caught.value.code == 2
    assert "--top-k" in capsys.readouterr().err


def test_top_k_above_the_classes_lists_them_all(model_and_image, capsys):
    model, image = model_and_image
    assert main(["predict", model, image, "--top-k", "5"]) == 0


def test_ctrl_c_during_start_up_is_one_line(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["predict", "m.pt", "x.png"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "stopped." and "Traceback" not in err
